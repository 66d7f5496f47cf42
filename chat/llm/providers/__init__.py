"""litellm custom providers registered by the chat app: `fake/...` (tests, bench) and `local/...`."""
