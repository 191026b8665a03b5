"""Google Analytics 4 (gtag.js, Measurement Protocol)."""
