"""The stylesheet shared by the HTML reports (audit and compare): inline, no fonts or files fetched. Readable
from a 400 px screen to print: charts scale with the page, wide tables scroll inside their own box."""

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 1em;max-width:70em;color:#222;
line-height:1.4}h1{font-size:1.5em;overflow-wrap:anywhere}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}
.error{color:#c62828}.warning{color:#ef6c00}.info{color:#1565c0}code{background:#f6f6f6;padding:0 .2em;
overflow-wrap:anywhere}td code{white-space:nowrap}code.hash{font-size:.8em;white-space:normal;word-break:break-all}
.legend{font-size:.85em;color:#555}.verdict{font-size:1.15em}.num{text-align:right}
svg.chart{display:block;width:100%;max-width:560px;height:auto;margin:.5em 0}
.scroll{overflow-x:auto;max-width:100%}pre{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;
padding:.5em}.box{border:2px solid #ef6c00;background:#fff8e1;padding:0 1em;margin:1em 0;border-radius:4px}
@media (max-width:600px){body{margin:.5em auto;font-size:15px}td,th{padding:.2em .3em}
table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:auto}table.stack tr{margin:.5em 0;
border:1px solid #ccc}table.stack td{border:0}table.stack tr:first-child{display:none}}
@media print{body{max-width:none;margin:0}svg.chart{max-width:16cm;page-break-inside:avoid}
.scroll{overflow:visible}}"""
