"""The OpenAPI 3.1 document of the JSON API, exactly as strict as the app."""
