"""What MonitorService is built from: points, history, sink outboxes, HTTP counts, disk quota."""
