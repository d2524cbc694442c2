"""The shift report (`iiot report`): a plant's shift as one self-contained HTML page (inline
CSS and SVG, no script, no network) or a PDF printed from it by headless Chromium.

It reads the documented `v_*` views as `iiot_reader`, like the dashboards, and shows their
numbers with the dashboards' names, bands and colours (dashboards/fields.py)."""
