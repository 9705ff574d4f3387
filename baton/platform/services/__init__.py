"""Business rules. Views, API, FHIR handlers and jobs call these; services never commit."""
