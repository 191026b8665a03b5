/*!
 * Usher tracker.js: the organizer's and the marketplace's pixels on a marketplace page.
 *
 *   <script src="https://USHER/static/usher/tracker.js" nonce="NONCE"></script>
 *   <script nonce="NONCE">
 *     Usher.init({client: 'ush_site_...', event: 'event-slug', pageType: 'event'});
 *     // an organizer's profile page: Usher.init({client: 'ush_site_...', organizer: 'org-id',
 *     //                                          pageType: 'organizer'});
 *     // consent banner:  Usher.consent({ad_storage: 'granted', analytics_storage: 'granted',
 *     //                                 ad_user_data: 'granted', ad_personalization: 'granted'});
 *     // user actions:    Usher.track('add_to_cart', {value: 120, quantity: 2});
 *   </script>
 *
 * Plain ES5, no dependencies and no build step, so the file is served as written. The
 * rules it keeps (docs/platforms.md, Page snippets):
 * - Opt-in: until Usher.consent() grants a purpose, no platform library is requested
 *   and nothing is sent anywhere except the tracking-config request to Usher. Advanced
 *   matching (Usher.init({user: {email, phone}})) also needs ad_user_data granted.
 * - Several tenants' codes share the page, so every event is addressed to one code at a
 *   time: Meta trackSingle, gtag send_to a per-code group, ttq.instance(id), one
 *   dataLayer per GTM container. A code receives only the events in its `events`.
 * - One event id per event, shared by every pixel and by the copy posted to Usher's
 *   collector, so the platforms can deduplicate it against the server-side copy; a
 *   purchase's id is derived from the order ("order-<id>"), as the server derives it.
 * - The page is an event's (`event`: its codes, funnel events), an organizer's profile
 *   (`organizer`: its defaults plus the marketplace's, page_view only) or any other
 *   marketplace page (neither: no pixels, only page_view to the collector, which sends it
 *   to the marketplace's own server-side accounts).
 * - Pages whose pixels are server-rendered (usher.tracking.snippets) load tracker.js with
 *   {pixels: false, pageEvents: [...]}: the rendered events, with the ids the pixels got,
 *   go to the collector after consent as tracker.js's own would; no pixel is loaded twice.
 */
(function (window, document) {
  'use strict';

  var previous = window.Usher;
  if (previous && previous.version) {
    return; // loaded twice: the first copy keeps its state
  }
  // Server-rendered snippets (usher/tracking/snippets.py) on the same page define
  // Usher.consent first; the banner calls one Usher.consent, so theirs keeps being called.
  var previousConsent = previous && typeof previous.consent === 'function' ? previous.consent : null;

  var VERSION = '1.0.0';
  var CONFIG_PATHS = {event: '/api/marketplace-client/events/',
    organizer: '/api/marketplace-client/organizers/'};
  var MARKETPLACE_CONFIG_PATH = '/api/marketplace-client/tracking-config';
  // Where events go on pages without a tracking config; a config names its own.
  var VISITOR_COOKIE = 'usher_vid';
  var VISITOR_MAX_AGE_S = 390 * 24 * 60 * 60; // the longest first-party cookie browsers keep
  var ATTRIBUTION_KEY = 'usher_attribution';
  var ATTRIBUTION_COOKIE = 'usher_attr'; // only when localStorage is unavailable
  var CLICK_ID_MAX_AGE_MS = 90 * 24 * 60 * 60 * 1000; // the longest platform click window
  var CONSENT_WAIT_FOR_UPDATE_MS = 500;
  var CLICK_IDS = ['fbclid', 'gclid', 'gbraid', 'wbraid', 'ttclid'];
  var UTM_PARAMS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'];
  var PURPOSES = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'];
  var STANDARD_EVENTS = ['page_view', 'view_item', 'add_to_cart', 'begin_checkout', 'purchase'];
  // page_view on every page, as the platforms' base codes do; then the page's own step.
  var PAGE_EVENTS = {
    event: ['page_view', 'view_item'],
    checkout: ['page_view', 'begin_checkout'],
    thank_you: ['page_view', 'purchase'],
    organizer: ['page_view'],
    other: ['page_view']
  };
  var META_EVENTS = {
    page_view: 'PageView', view_item: 'ViewContent', add_to_cart: 'AddToCart',
    begin_checkout: 'InitiateCheckout', purchase: 'Purchase'
  };
  // TikTok's standard names are the same (docs/platforms.md, Page snippets: event names).
  var TIKTOK_EVENTS = META_EVENTS;

  var currentScript = document.currentScript;
  var state = {
    options: null,
    page: null, // {event: slug} or {organizer: external id}; {} on other pages
    config: null,
    consent: null, // null until the visitor (or the client's policy) decides
    nonce: '',
    apiBase: '',
    ready: null,
    log: [], // this page's events, in order: {name, event_id, data, time}
    codes: [],
    loaders: {}, // loader name -> {codes: [...]} once its library is set up
    delivered: {}, // event_id + '|' + code key -> true
    collected: {}, // event_id -> true
    landing: captureLanding()
  };

  // --- small helpers ---

  function noop() {}

  function has(obj, key) {
    return Object.prototype.hasOwnProperty.call(obj, key);
  }

  function assign(target) {
    for (var i = 1; i < arguments.length; i++) {
      var source = arguments[i];
      if (source) {
        for (var key in source) {
          if (has(source, key)) target[key] = source[key];
        }
      }
    }
    return target;
  }

  function isEmpty(value) {
    return value === undefined || value === null || value === '' ||
      (Object.prototype.toString.call(value) === '[object Array]' && !value.length);
  }

  function compact(obj) {
    var out = {};
    for (var key in obj) {
      if (has(obj, key) && !isEmpty(obj[key])) out[key] = obj[key];
    }
    return out;
  }

  function includes(list, item) {
    return !!list && list.indexOf(item) !== -1;
  }

  function warn(message, error) {
    if (window.console && console.warn) console.warn('[usher] ' + message, error || '');
  }

  function safely(fn, args) {
    try {
      return fn.apply(null, args || []);
    } catch (e) {
      warn('a tracking call failed', e); // one broken pixel must not stop the others
    }
  }

  function uuid() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === 'function') {
      try { return c.randomUUID(); } catch (e) { /* insecure context: fall through */ }
    }
    var bytes = [];
    if (c && c.getRandomValues) {
      bytes = Array.prototype.slice.call(c.getRandomValues(new Uint8Array(16)));
    } else {
      for (var i = 0; i < 16; i++) bytes.push(Math.floor(Math.random() * 256));
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    var hex = bytes.map(function (b) { return (b + 0x100).toString(16).slice(1); }).join('');
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
      hex.slice(20)].join('-');
  }

  function toNumber(value) {
    if (isEmpty(value)) return undefined;
    var n = Number(value);
    return isFinite(n) ? n : undefined;
  }

  function purchaseEventId(orderId) {
    return 'order-' + orderId; // the server derives the same id from the order
  }

  // --- first-party storage: cookies and localStorage ---

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split('; ') : [];
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].indexOf(name + '=') === 0) {
        try { return decodeURIComponent(parts[i].slice(name.length + 1)); } catch (e) { return null; }
      }
    }
    return null;
  }

  function writeCookie(name, value, maxAgeSeconds) {
    var cookie = name + '=' + encodeURIComponent(value) + '; Max-Age=' + maxAgeSeconds +
      '; Path=/; SameSite=Lax';
    var domain = state.options && state.options.cookieDomain;
    if (domain) cookie += '; Domain=' + domain;
    if (window.location.protocol === 'https:') cookie += '; Secure';
    document.cookie = cookie;
  }

  function loadAttribution() {
    var raw = null;
    try {
      raw = window.localStorage.getItem(ATTRIBUTION_KEY);
    } catch (e) {
      raw = readCookie(ATTRIBUTION_COOKIE);
    }
    try { return JSON.parse(raw) || {}; } catch (e) { return {}; }
  }

  function saveAttribution(data) {
    var raw = JSON.stringify(data);
    try { window.localStorage.setItem(ATTRIBUTION_KEY, raw); } catch (e) {
      writeCookie(ATTRIBUTION_COOKIE, raw, VISITOR_MAX_AGE_S);
    }
  }

  // Click ids and UTM parameters of the landing URL, held in memory until consent
  // allows storing them.
  function captureLanding() {
    var now = Date.now();
    var found = {click_ids: {}, utm: null};
    var params;
    try { params = new URLSearchParams(window.location.search); } catch (e) { return found; }
    CLICK_IDS.forEach(function (name) {
      var value = params.get(name); // decoded once: fbclid is case- and byte-sensitive
      if (value) found.click_ids[name] = {value: value, at: now};
    });
    var utm = {};
    UTM_PARAMS.forEach(function (name) {
      var value = params.get(name);
      if (value) utm[name] = value;
    });
    if (Object.keys(utm).length) found.utm = {values: utm, at: now, landing_url: window.location.href};
    return found;
  }

  // Stored attribution merged with this landing (newer click ids and UTM sets win), for
  // the purposes granted, and written back; click ids need ad_storage.
  function attribution() {
    var ads = granted('ad_storage');
    var stored = loadAttribution();
    var merged = {click_ids: {}, utm: stored.utm || null};
    var now = Date.now();
    if (ads) {
      var clickIds = assign({}, stored.click_ids, state.landing.click_ids);
      for (var name in clickIds) {
        if (has(clickIds, name) && now - clickIds[name].at < CLICK_ID_MAX_AGE_MS) {
          merged.click_ids[name] = clickIds[name];
        }
      }
    }
    if (state.landing.utm) merged.utm = state.landing.utm;
    saveAttribution({click_ids: ads ? merged.click_ids : (stored.click_ids || {}), utm: merged.utm});
    return merged;
  }

  function visitorId() {
    var id = readCookie(VISITOR_COOKIE);
    if (!id || !/^[A-Za-z0-9-]{8,64}$/.test(id)) id = uuid();
    writeCookie(VISITOR_COOKIE, id, VISITOR_MAX_AGE_S); // refreshed on every visit
    return id;
  }

  // --- consent ---

  function granted(purpose) {
    return !!state.consent && state.consent[purpose] === 'granted';
  }

  function storageAllowed() {
    return granted('ad_storage') || granted('analytics_storage');
  }

  function consentDefaults() {
    var out = {};
    PURPOSES.forEach(function (p) { out[p] = 'denied'; });
    out.wait_for_update = CONSENT_WAIT_FOR_UPDATE_MS;
    return out;
  }

  // --- loading platform libraries ---

  function loadScript(src) {
    var s = document.createElement('script');
    s.async = true;
    s.src = src;
    // 'strict-dynamic' trusts scripts added by tracker.js; the nonce covers nonce-only CSPs.
    if (state.nonce) s.setAttribute('nonce', state.nonce);
    (document.head || document.documentElement).appendChild(s);
  }

  function gtagCommand(queue, args) {
    // gtag.js and GTM only act on `arguments` objects, never on arrays.
    (function () { queue.push(arguments); }).apply(null, args);
  }

  // One entry per platform library: set up once, add each code, apply consent.
  var LOADERS = {
    meta: {
      setup: function () {
        if (!window.fbq) {
          // Meta's base-code stub: queues calls until fbevents.js replays them.
          var n = window.fbq = function () {
            if (n.callMethod) n.callMethod.apply(n, arguments); else n.queue.push(arguments);
          };
          if (!window._fbq) window._fbq = n;
          n.push = n; n.loaded = true; n.version = '2.0'; n.queue = [];
          loadScript('https://connect.facebook.net/en_US/fbevents.js');
        }
        window.fbq('consent', 'revoke'); // before any init, per Meta's GDPR guidance
      },
      add: function (code) {
        // Automatic button events would go to every pixel on the page.
        window.fbq('set', 'autoConfig', false, code.id);
        var matching = advancedMatching(code, {email: 'em', phone: 'ph', external_id: 'external_id'});
        if (matching) window.fbq('init', code.id, matching); else window.fbq('init', code.id);
      },
      consent: function (c) {
        window.fbq('consent', c.ad_storage === 'granted' ? 'grant' : 'revoke');
      }
    },
    gtag: {
      setup: function (code) {
        window.dataLayer = window.dataLayer || [];
        if (typeof window.gtag !== 'function') {
          window.gtag = function () { window.dataLayer.push(arguments); };
        }
        window.gtag('consent', 'default', consentDefaults()); // before js and any config
        window.gtag('set', 'ads_data_redaction', true);
        window.gtag('js', new Date());
        loadScript('https://www.googletagmanager.com/gtag/js?id=' + encodeURIComponent(code.id));
      },
      add: function (code) {
        var options = {groups: code.group, send_page_view: false};
        var matching = advancedMatching(code, {email: 'email', phone: 'phone_number'});
        if (matching) options.user_data = matching;
        window.gtag('config', code.id, options);
      },
      consent: function (c) {
        window.gtag('consent', 'update', assign({}, c));
      }
    },
    gtm: {
      setup: noop,
      add: function (code) {
        // Its own dataLayer: GTM acts on everything in its layer, gtag commands included.
        var layer = window[code.layer] = window[code.layer] || [];
        gtagCommand(layer, ['consent', 'default', consentDefaults()]);
        layer.push({'gtm.start': new Date().getTime(), event: 'gtm.js'});
        loadScript('https://www.googletagmanager.com/gtm.js?id=' + encodeURIComponent(code.id) +
          '&l=' + encodeURIComponent(code.layer));
      },
      consent: function (c, codes) {
        codes.forEach(function (code) {
          gtagCommand(window[code.layer], ['consent', 'update', assign({}, c)]);
        });
      }
    },
    tiktok: {
      setup: function () {
        var t = 'ttq';
        window.TiktokAnalyticsObject = t;
        var ttq = window[t] = window[t] || [];
        if (!ttq.load) {
          // TikTok's base-code stub: per-method queues replayed by events.js.
          ttq.methods = ['page', 'track', 'identify', 'instances', 'debug', 'on', 'off', 'once',
            'ready', 'alias', 'group', 'enableCookie', 'disableCookie', 'holdConsent',
            'revokeConsent', 'grantConsent'];
          ttq.setAndDefer = function (target, method) {
            target[method] = function () {
              target.push([method].concat(Array.prototype.slice.call(arguments, 0)));
            };
          };
          for (var i = 0; i < ttq.methods.length; i++) ttq.setAndDefer(ttq, ttq.methods[i]);
          ttq.instance = function (id) {
            var instance = ttq._i[id] || [];
            for (var n = 0; n < ttq.methods.length; n++) ttq.setAndDefer(instance, ttq.methods[n]);
            return instance;
          };
          ttq.load = function (id, options) {
            var url = 'https://analytics.tiktok.com/i18n/pixel/events.js';
            ttq._i = ttq._i || {}; ttq._i[id] = []; ttq._i[id]._u = url;
            ttq._t = ttq._t || {}; ttq._t[id] = +new Date();
            ttq._o = ttq._o || {}; ttq._o[id] = options || {};
            loadScript(url + '?sdkid=' + encodeURIComponent(id) + '&lib=' + t);
          };
        }
        ttq.holdConsent(); // before any load
      },
      add: function (code) {
        window.ttq.load(code.id);
        var matching = advancedMatching(code,
          {email: 'email', phone: 'phone_number', external_id: 'external_id'});
        if (matching) window.ttq.instance(code.id).identify(matching);
      },
      consent: function (c) {
        // After load: TikTok ignores a grant that precedes it.
        if (c.ad_storage === 'granted') window.ttq.grantConsent(); else window.ttq.revokeConsent();
      }
    }
  };

  // Visitor data for advanced matching, renamed for one platform; only for codes that
  // enable it, only what the page passed in Usher.init({user: ...}), and only when the
  // visitor allowed user data for ads: Consent Mode calls that purpose ad_user_data, and
  // ad_storage (which loads the pixel) does not cover it. Decided when the code starts:
  // Meta takes matching data only in init, which runs once per pixel.
  function advancedMatching(code, keys) {
    if (!code.advanced_matching || !granted('ad_user_data')) return null;
    var user = (state.options && state.options.user) || {};
    var out = {};
    for (var ours in keys) {
      if (has(keys, ours) && user[ours]) out[keys[ours]] = String(user[ours]);
    }
    return Object.keys(out).length ? out : null;
  }

  // --- events, per platform ---

  function withParams(code, standard) {
    return compact(assign({}, code.params, compact(standard))); // ours win over custom params
  }

  function items(d) {
    return (d.content_ids || []).map(function (id) {
      return compact({item_id: id, item_name: d.content_name, quantity: d.quantity});
    });
  }

  function ads(c) { return c.ad_storage === 'granted'; }
  function analytics(c) { return c.analytics_storage === 'granted'; }

  // provider -> its loader, the consent purpose it needs and how it sends one event.
  var PROVIDERS = {
    meta: {
      loader: 'meta',
      allowed: ads,
      send: function (code, ev, d) {
        var params = ev.name === 'page_view' ? withParams(code, {}) : withParams(code, {
          content_ids: d.content_ids, content_type: d.content_ids ? 'product' : '',
          content_name: d.content_name, value: d.value, currency: d.currency,
          num_items: d.quantity, order_id: d.order_id
        });
        window.fbq('trackSingle', code.id, META_EVENTS[ev.name], params, {eventID: ev.event_id});
      }
    },
    ga4: {
      loader: 'gtag',
      allowed: analytics,
      send: function (code, ev, d) {
        window.gtag('event', ev.name, withParams(code, {
          currency: d.currency, value: d.value, transaction_id: d.order_id, items: items(d),
          event_id: ev.event_id, send_to: code.group
        }));
      }
    },
    google_ads: {
      loader: 'gtag',
      allowed: ads,
      send: function (code, ev, d) {
        var label = code.labels && code.labels[ev.name];
        // Dynamic remarketing: the content ids as items of Google's "custom" vertical,
        // the ids of the catalog's dynamic custom assets.
        var dynamicItems = isEmpty(d.content_ids) ? undefined :
          d.content_ids.map(function (id) {
            return {id: id, google_business_vertical: 'custom'};
          });
        if (label) {
          var conversion = {
            send_to: code.id + '/' + label, value: d.value, currency: d.currency,
            transaction_id: d.order_id || ev.event_id
          };
          if (dynamicItems) conversion.items = dynamicItems;
          window.gtag('event', 'conversion', withParams(code, conversion));
        } else if (ev.name === 'page_view') {
          window.gtag('event', 'page_view', {send_to: code.group}); // the remarketing hit
        } else if (dynamicItems) {
          window.gtag('event', ev.name, withParams(code, compact({
            send_to: code.group, value: d.value, items: dynamicItems
          })));
        }
      }
    },
    gtm: {
      loader: 'gtm',
      // A container holds both kinds of tags; its Google tags follow the Consent Mode
      // state pushed into its dataLayer, other tags must use GTM's consent checks.
      allowed: function (c) { return ads(c) || analytics(c); },
      send: function (code, ev, d) {
        var layer = window[code.layer];
        var ecommerce = compact({
          currency: d.currency, value: d.value, transaction_id: d.order_id, items: items(d)
        });
        var payload = withParams(code, {event: ev.name, event_id: ev.event_id});
        if (Object.keys(ecommerce).length) payload.ecommerce = ecommerce;
        layer.push({ecommerce: null}); // stops GTM merging the previous event's items
        layer.push(payload);
      }
    },
    tiktok: {
      loader: 'tiktok',
      allowed: ads,
      send: function (code, ev, d) {
        var pixel = window.ttq.instance(code.id);
        if (ev.name === 'page_view') {
          pixel.page();
          return;
        }
        pixel.track(TIKTOK_EVENTS[ev.name], withParams(code, {
          content_ids: d.content_ids, content_type: d.content_ids ? 'product' : '',
          description: d.content_name, quantity: d.quantity, value: d.value,
          currency: d.currency, order_id: d.order_id
        }), {event_id: ev.event_id});
      }
    }
  };

  // The event's data with the page's defaults (the event being sold) filled in.
  function eventData(ev) {
    var d = assign({}, ev.data);
    if (ev.name === 'page_view') return d;
    var page = (state.config && state.config.event) || {};
    if (isEmpty(d.content_ids) && page.content_id) d.content_ids = [page.content_id];
    if (!d.content_name && page.name) d.content_name = page.name;
    if (!d.currency && page.currency) d.currency = page.currency;
    return d;
  }

  // --- Usher's collector (POST /api/collect, usher/events/collector.py) ---

  var COLLECTOR_MAX_EVENTS = 50; // the collector's batch limit

  function collectorUrl() {
    var url = state.config && state.config.collector_url;
    if (!url) return '';
    url = /^https?:\/\//i.test(url) ? url : state.apiBase + url;
    // The site key in the query too: a CORS preflight carries no body.
    return url + (url.indexOf('?') === -1 ? '?' : '&') + 'site_key=' +
      encodeURIComponent(state.options.client);
  }

  // The one way events reach Usher's collector. Failures (a 404 while no collector is
  // deployed, a 4xx, the network) are ignored: tracking must never break the page.
  function sendToCollector(payload) {
    var url = collectorUrl();
    if (!url) return;
    var body = JSON.stringify(payload);
    try {
      if (window.fetch) {
        // keepalive: the request survives the page being left (e.g. Add to cart -> next page).
        window.fetch(url, {
          method: 'POST', body: body, keepalive: true, credentials: 'omit', mode: 'cors',
          headers: {'Content-Type': 'application/json'}
        }).then(noop, noop);
      } else if (navigator.sendBeacon) {
        navigator.sendBeacon(url, new Blob([body], {type: 'text/plain;charset=UTF-8'}));
      }
    } catch (e) { /* ignored on purpose */ }
  }

  function money(value) {
    return value === undefined ? undefined : Math.round(value * 100) / 100;
  }

  // One event as the collector's schema wants it. Identifiers (visitor id, click ids,
  // platform cookies, the query string) only with the consent that covers them.
  function collectorEvent(ev) {
    var d = eventData(ev);
    var storage = storageAllowed();
    var ads = granted('ad_storage');
    var attr = storage ? attribution() : {click_ids: {}, utm: null};
    var click = {};
    var clickedAt = 0;
    for (var name in attr.click_ids) {
      if (has(attr.click_ids, name)) {
        click[name] = attr.click_ids[name].value;
        clickedAt = Math.max(clickedAt, attr.click_ids[name].at);
      }
    }
    if (clickedAt) click.clicked_at = new Date(clickedAt).toISOString();
    var utm = {};
    var landingUtm = (attr.utm && attr.utm.values) || {};
    UTM_PARAMS.forEach(function (key) { utm[key.slice(4)] = landingUtm[key]; });
    var consent = {};
    PURPOSES.forEach(function (key) { consent[key] = granted(key); });
    var loc = window.location;
    return compact({
      event_id: ev.event_id,
      name: ev.name,
      time: ev.time,
      event: state.page.event,
      organizer: state.page.organizer,
      visitor_id: storage ? visitorId() : '',
      page_url: storage ? loc.href : loc.protocol + '//' + loc.host + loc.pathname,
      value: money(d.value),
      currency: d.currency,
      content_ids: d.content_ids,
      num_items: d.quantity,
      order_id: d.order_id,
      click: compact(click),
      cookies: ads ? compact({
        fbc: readCookie('_fbc'), fbp: readCookie('_fbp'), ttp: readCookie('_ttp')
      }) : {},
      utm: compact(utm),
      consent: consent
    });
  }

  function collect(events) {
    for (var i = 0; i < events.length; i += COLLECTOR_MAX_EVENTS) {
      sendToCollector({
        site_key: state.options.client,
        events: events.slice(i, i + COLLECTOR_MAX_EVENTS).map(collectorEvent)
      });
    }
  }

  // --- the engine: activate allowed codes, deliver every event once per code ---

  function activateCodes() {
    var touched = {};
    state.codes.forEach(function (code) {
      var provider = PROVIDERS[code.provider];
      if (code.active || !provider.allowed(state.consent)) return;
      var loader = state.loaders[provider.loader];
      if (!loader) {
        loader = state.loaders[provider.loader] = {codes: []};
        safely(LOADERS[provider.loader].setup, [code]);
      }
      safely(LOADERS[provider.loader].add, [code]);
      loader.codes.push(code);
      code.active = true;
      touched[provider.loader] = true;
    });
    for (var name in touched) {
      if (has(touched, name)) safely(LOADERS[name].consent, [state.consent, state.loaders[name].codes]);
    }
  }

  function deliver() {
    var uncollected = [];
    state.log.forEach(function (ev) {
      var d = eventData(ev);
      state.codes.forEach(function (code) {
        var key = ev.event_id + '|' + code.key;
        var provider = PROVIDERS[code.provider];
        if (!code.active || state.delivered[key] || !includes(code.events, ev.name)) return;
        if (!provider.allowed(state.consent)) return; // consent withdrawn since activation
        state.delivered[key] = true;
        safely(provider.send, [code, ev, d]);
      });
      if (!state.collected[ev.event_id]) {
        state.collected[ev.event_id] = true;
        uncollected.push(ev);
      }
    });
    if (uncollected.length) collect(uncollected);
  }

  function pump() {
    if (!state.config || !state.consent) return; // no decision yet: nothing leaves the page
    activateCodes();
    deliver();
  }

  // Codes from the config; one per (provider, id) so that a pixel used by both the
  // organizer and the marketplace is initialised, and fed, once.
  function prepareCodes(codes) {
    var byKey = {};
    var out = [];
    (codes || []).forEach(function (raw) {
      if (!raw || !has(PROVIDERS, raw.provider) || !raw.id) return;
      var dedupe = raw.provider + '|' + raw.id;
      var existing = byKey[dedupe];
      if (existing) {
        (raw.events || []).forEach(function (e) {
          if (!includes(existing.events, e)) existing.events.push(e);
        });
        existing.labels = assign({}, raw.labels, existing.labels);
        return;
      }
      var index = out.length;
      var code = assign({}, raw, {
        events: (raw.events || []).slice(),
        params: raw.params || {},
        labels: raw.labels || {},
        key: index,
        group: 'usher_' + index,
        layer: 'usherDataLayer_' + index,
        active: false
      });
      byKey[dedupe] = code;
      out.push(code);
    });
    return out;
  }

  function scriptOrigin() {
    if (!currentScript || !currentScript.src) return '';
    var a = document.createElement('a');
    a.href = currentScript.src;
    return a.protocol + '//' + a.host;
  }

  function fetchConfig() {
    // An event's page, an organizer's profile, or any other page (the marketplace's codes).
    var kind = state.page.event ? 'event' : (state.page.organizer ? 'organizer' : null);
    var path = kind ?
      CONFIG_PATHS[kind] + encodeURIComponent(state.page[kind]) + '/tracking-config' :
      MARKETPLACE_CONFIG_PATH;
    var url = state.apiBase + path + '?site_key=' + encodeURIComponent(state.options.client);
    return window.fetch(url, {credentials: 'omit', mode: 'cors'}).then(function (response) {
      if (!response.ok) throw new Error('tracking config answered ' + response.status);
      return response.json();
    });
  }

  function applyConfig(config) {
    state.config = config || {};
    // {pixels: false}: the page's pixels are server-rendered snippets, not ours to load.
    state.codes = state.options.pixels === false ? [] : prepareCodes(state.config.codes);
    var mode = state.config.consent && state.config.consent.mode;
    // Only a client whose policy does not require opt-in starts with consent granted.
    if (!state.consent && mode === 'opt_out') {
      api.consent({
        ad_storage: true, analytics_storage: true, ad_user_data: true, ad_personalization: true
      });
    }
  }

  // The page the events belong to: an event's (which names its organizer itself), an
  // organizer's profile, or neither.
  function pageOf(o) {
    if (!isEmpty(o.event)) return {event: String(o.event)};
    if (!isEmpty(o.organizer)) return {organizer: String(o.organizer)};
    return {};
  }

  // The funnel steps (view_item, begin_checkout, purchase) are an event's; other pages
  // fire page_view only.
  function pageEvents(o) {
    var type = state.page.event ? o.pageType : (state.page.organizer ? 'organizer' : 'other');
    var names = PAGE_EVENTS[type] || PAGE_EVENTS.other;
    if (!state.page.event && o.pageType && PAGE_EVENTS[o.pageType] &&
        PAGE_EVENTS[o.pageType].length > names.length) {
      warn('pageType ' + o.pageType + ' needs {event: slug}; firing page_view only');
    }
    return names;
  }

  function pageEventData(name, o) {
    if (name === 'page_view') return {};
    if (name === 'purchase') {
      var order = o.order || {};
      return {
        order_id: order.id, value: order.value, currency: order.currency,
        quantity: order.quantity, content_ids: order.content_ids
      };
    }
    return {value: o.value, currency: o.currency, quantity: o.quantity};
  }

  // --- public API ---

  var api = {
    version: VERSION,

    /** Fetch the page's tracking config; pixels follow once consent allows them. */
    init: function (options) {
      if (state.options) {
        warn('Usher.init was already called on this page');
        return state.ready;
      }
      var o = state.options = options || {};
      if (!o.client) {
        warn('Usher.init needs {client: siteKey}');
        state.ready = Promise.resolve(false);
        return state.ready;
      }
      state.page = pageOf(o);
      state.nonce = o.nonce ||
        (currentScript && (currentScript.nonce || currentScript.getAttribute('nonce'))) || '';
      state.apiBase = String(o.apiBase !== undefined ? o.apiBase : scriptOrigin()).replace(/\/+$/, '');
      if (Array.isArray(o.pageEvents)) {
        // Events the server rendered for its snippets: the same ids reach the collector.
        o.pageEvents.forEach(function (e) {
          if (e && e.name) api.track(e.name, e);
        });
      } else {
        pageEvents(o).forEach(function (name) {
          api.track(name, pageEventData(name, o));
        });
      }
      if (!window.fetch) {
        state.ready = Promise.resolve(false);
        return state.ready;
      }
      state.ready = fetchConfig().then(function (config) {
        applyConfig(config);
        pump();
        return true;
      }, function (error) {
        warn('no tracking config', error);
        return false;
      });
      return state.ready;
    },

    /** Resolves to true once the tracking config is loaded (false if it could not be, or
     *  the page has none: neither event nor organizer). */
    ready: function () {
      return state.ready || Promise.resolve(false);
    },

    /** This page's events so far ({name, event_id, time}), e.g. to hand ids to the server. */
    events: function () {
      return state.log.map(function (ev) {
        return {name: ev.name, event_id: ev.event_id, time: ev.time};
      });
    },

    /** The consent banner's choice, as Consent Mode purposes ('granted'/'denied' or booleans);
     *  purposes left out keep their previous value. */
    consent: function (choice) {
      var next = {};
      var prev = state.consent || {};
      PURPOSES.forEach(function (p) {
        var v = choice ? choice[p] : undefined;
        if (v === true || v === 'granted') next[p] = 'granted';
        else if (v === false || v === 'denied') next[p] = 'denied';
        else next[p] = prev[p] || 'denied';
      });
      state.consent = next;
      if (previousConsent) safely(previousConsent, [choice]);
      if (storageAllowed()) {
        visitorId();
        attribution(); // persist the landing's click ids and UTM now that storing is allowed
      }
      for (var name in state.loaders) {
        if (has(state.loaders, name)) safely(LOADERS[name].consent, [next, state.loaders[name].codes]);
      }
      pump();
      return assign({}, next);
    },

    /** Fire a standard event to every code that receives it; returns its event id. */
    track: function (name, params) {
      if (!includes(STANDARD_EVENTS, name)) {
        warn('unknown event ' + name + '; use one of ' + STANDARD_EVENTS.join(', '));
        return null;
      }
      var p = params || {};
      var data = compact({
        value: toNumber(p.value),
        currency: p.currency ? String(p.currency).toUpperCase() : '',
        quantity: toNumber(p.quantity),
        content_ids: p.content_ids ? [].concat(p.content_ids).map(String) : null,
        content_name: p.content_name,
        order_id: isEmpty(p.order_id) ? '' : String(p.order_id)
      });
      var eventId = p.event_id ||
        (name === 'purchase' && data.order_id ? purchaseEventId(data.order_id) : uuid());
      for (var i = 0; i < state.log.length; i++) {
        if (state.log[i].event_id === eventId && state.log[i].name === name) return eventId;
      }
      state.log.push({name: name, event_id: eventId, data: data, time: new Date().toISOString()});
      pump();
      return eventId;
    }
  };

  if (previous && previous._snippets) api._snippets = previous._snippets; // their registry
  window.Usher = api;
  // Calls made through an async-loading stub (window.Usher = {q: [[method, args], ...]}).
  ((previous && previous.q) || []).forEach(function (call) {
    if (call && has(api, call[0]) && typeof api[call[0]] === 'function') {
      safely(api[call[0]], Array.prototype.slice.call(call[1] || []));
    }
  });
})(window, document);
