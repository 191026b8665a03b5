"""Google Tag Manager (client-side container only)."""
