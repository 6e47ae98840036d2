"""The analytics stage: tracking, zones and lines, and the object-event lifecycle."""
