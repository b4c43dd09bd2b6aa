#!/usr/bin/env python3
"""Streams pre-encoded IngestRequest messages to c360's Ingest with grpcio.

An outside client, as a bank's integration team would write one: the
standard Python gRPC library, one HTTP/2 DATA frame per message, sending as
fast as flow control lets it. It needs no generated code: requests are
protobuf bytes read from a file (each preceded by its length as a 4-byte
big-endian integer) and every response is written, as received, to an
output file in the same framing, for the caller to decode and check.

usage: ingest.py ADDRESS TOKEN REQUESTS RESPONSES

Prints one JSON line: {"acked": N, "code": "OK" | status name,
"details": text, "seconds": S}. Exits 0 when the call ended OK.
"""

import json
import struct
import sys
import time

import grpc

METHOD = "/c360.resolver.v1.ResolverService/Ingest"


def requests(path):
    with open(path, "rb") as f:
        while True:
            head = f.read(4)
            if len(head) < 4:
                return
            (n,) = struct.unpack(">I", head)
            yield f.read(n)


def main():
    address, token, requests_path, responses_path = sys.argv[1:5]
    started = time.monotonic()
    acked = 0
    code, details = "OK", ""
    with grpc.insecure_channel(address) as channel, open(responses_path, "wb") as out:
        ingest = channel.stream_stream(METHOD)  # bytes in, bytes out
        try:
            for response in ingest(
                requests(requests_path),
                metadata=[("authorization", "Bearer " + token)],
            ):
                out.write(struct.pack(">I", len(response)))
                out.write(response)
                acked += 1
        except grpc.RpcError as e:
            code, details = e.code().name, e.details() or ""
    print(
        json.dumps(
            {
                "acked": acked,
                "code": code,
                "details": details,
                "seconds": round(time.monotonic() - started, 3),
            }
        ),
        flush=True,
    )
    return 0 if code == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
