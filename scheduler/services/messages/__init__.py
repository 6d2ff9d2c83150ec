"""Messages to and from patients: the outbox (planned in the change's transaction), sending
it, rendering what a patient reads, private links in messages, inbound texts, the desk's
view of messages, the evening digest."""
