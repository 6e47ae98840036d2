"""Object events out, at least once: an outbox in the event store, a dispatcher that drains
it into MQTT, webhooks and `coral_serve.event_sinks` plugins."""
