"""What patients read: messages rendered in their language at send time."""
