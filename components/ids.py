"""Component ids, shared by layouts and callbacks (a typo fails at import, not at run time)."""

REFRESH = "cm-refresh"            # dcc.Interval driving every page's refresh
CLOCK = "cm-clock"                # dcc.Store with the data clock (replay runs faster than wall time)
CLOCK_SINK = "cm-clock-sink"
BANNER = "cm-banner"
BANNER_TAG = "cm-banner-tag"
BANNER_TICK = "cm-banner-tick"      # dcc.Store: the refresh tick, passed on except on the wall (banner hidden)
MARKETS_TABLE = "cm-markets-table"
MARKETS_TAG = "cm-markets-tag"
SOURCES_TABLE = "cm-sources-table"
SOURCES_TAG = "cm-sources-tag"
CSRF = "cm-csrf"                  # dcc.Store: this browser's CSRF token (web.auth), sent with operator actions
NAV_TOGGLE = "cm-nav-toggle"      # the menu button on a narrow screen
NAV_COLLAPSE = "cm-nav-collapse"  # what it folds: the page links and the time-zone picker
TZ = "cm-tz"                      # times in UTC / Tokyo / New York (assets/time.js; ?tz= in the URL)
CLOCK_TICK = "cm-clock-tick"      # the refresh tick, passed on only during a replay (its clock may pause)
