"""The stylesheet shared by the HTML reports (audit and compare): inline, no fonts or files fetched."""

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;
vertical-align:top}th{background:#f3f3f3}.error{color:#c62828}.warning{color:#ef6c00}.info{color:#1565c0}
code{background:#f6f6f6;padding:0 .2em}td code{white-space:nowrap}.legend{font-size:.85em;color:#555}"""
