"""Core domain and the web app: models, services, views, auth, audit."""
