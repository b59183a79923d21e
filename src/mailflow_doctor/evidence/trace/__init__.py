"""Exchange Online message trace: every export read into TraceEvent records, and merged.

`reason.decode_reason` turns a Defer/Fail reason string into a DeferReason. Readers (KIND,
sniff, parse): `detail_csv` (Get-MessageTraceDetailV2 | Export-Csv), `extended_csv` (the extended
report), `summary_csv` (Get-MessageTraceV2 | Export-Csv, EAC summary and enhanced summary),
`powershell` (ConvertTo-Json of both cmdlets), `graph` (Graph responses and the `trace fetch`
file), `rws` (Reporting Web Service); `json_export` hands any JSON to the right one. `merge`
joins overlapping exports without double counting.
"""
