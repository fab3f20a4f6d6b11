package natsstore

// AppendEvent appends one security event (its JSON, as published on
// $security/events) to SIGNET_EVENTS without waiting for the
// acknowledgement: events are recorded on the path of a refused message,
// which must not wait on the network. A failed append is logged.
func (s *Store) AppendEvent(event []byte) {
	if _, err := s.js.PublishAsync(EventsSubject, event); err != nil {
		s.log.Warn("appending a security event", "stream", EventsStream, "err", err)
	}
}
