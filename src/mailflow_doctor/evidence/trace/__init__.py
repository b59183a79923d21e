"""Exchange Online message trace: the Defer/Fail reason decoder and the CSV export readers.

`reason.decode_reason` turns a reason string into a DeferReason; `detail_csv` reads
Get-MessageTraceDetailV2 exports and `extended_csv` the extended message trace report, both into
TraceEvent records.
"""
