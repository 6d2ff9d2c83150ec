"""What every audience shares: the input guard, request logs, metrics, presenters, site-wide
hooks (language, numbers, disclaimer, headers, errors), rate limits."""
