"""Meta (Pixel, Conversions API, audiences, campaigns)."""
