"""The clinic itself: settings an admin changes (hours, time off, closures, services), the
versioned details and reminder policy, and the contact text every page shows."""
