"""The clinic itself: settings an admin changes (weekly hours, services, providers), the
versioned details and reminder policy, and the contact text every page shows. Every booking
reads it; closures and time off, which cancel visits, are in closures/."""
