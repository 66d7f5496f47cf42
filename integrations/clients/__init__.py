"""HTTP clients for the providers' APIs (httpx; base URLs from settings)."""
