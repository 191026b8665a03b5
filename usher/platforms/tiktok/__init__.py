"""TikTok (Pixel, Events API, audiences, campaigns)."""
