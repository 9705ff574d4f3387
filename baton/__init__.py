"""Baton: closed-loop school mental-health referrals."""
