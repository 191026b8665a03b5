"""Google Ads (gtag.js conversions, API uploads, audiences, campaigns)."""
