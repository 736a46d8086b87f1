"""incident-timer: an event-driven SLA timer worker for support tickets."""
