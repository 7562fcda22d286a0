#!/usr/bin/env bash
# The dashboard's JavaScript unit tests, with Node's built-in test runner
# (no npm package needed). TestDashboardInBrowser covers the page whole.
set -euo pipefail
cd "$(dirname "$0")/../internal/admin/dashboard"
node --test jstest/*.test.js
