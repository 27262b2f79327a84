/* app.js — the web page: routes, screens, calls to the JSON API (no inline script anywhere). */
"use strict";
