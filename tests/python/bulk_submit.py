#!/usr/bin/env python3
"""A partner system's bulk submission written from the proto alone, with stock Python grpcio.

Generates the stubs from proto/ into a temporary directory (grpc_tools.protoc), connects to a
partner node over mTLS with the partner's certificate, and streams `--signals` signals, each
with one fresh identifier, down `--streams` SubmitSignals streams at once (one stream of N, or
ten streams of N/10 for the comparison in BENCHMARKS.md). grpcio writes each message as a DATA
frame of its own, which is what tonic's own client does not do.

Prints one JSON object on stdout: how many results came back accepted or refused, how every
stream ended, the rate, and a sample of accepted signal ids with their state read back through
GetSignalStatus. Exits 0 when every signal was accepted and every stream ended OK, else 1.
"""

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time


def generate_stubs(proto_dir, out_dir):
    from grpc_tools import protoc
    import importlib.resources

    include = str(importlib.resources.files("grpc_tools") / "_proto")
    files = []
    for root, _dirs, names in os.walk(proto_dir):
        files += [os.path.join(root, n) for n in names if n.endswith(".proto")]
    status = protoc.main(
        ["grpc_tools.protoc", f"-I{proto_dir}", f"-I{include}",
         f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"] + sorted(files))
    if status != 0:
        sys.exit(f"protoc failed on {proto_dir} (exit {status})")
    sys.path.insert(0, out_dir)


def bsn(n):
    """A valid (eleven-proof) BSN, different for every n below 45 million (as the Rust
    harness's requests::bsn)."""
    base = 10_000_000 + 2 * n
    digits = f"{base:08}"
    total = sum(int(d) * w for d, w in zip(digits, range(9, 1, -1)))
    check = total % 11
    return f"{base + 1:08}1" if check == 10 else f"{digits}{check}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="host:port of the partner node")
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cert", required=True, help="the partner's client certificate")
    parser.add_argument("--key", required=True)
    parser.add_argument("--proto", required=True, help="the repository's proto/ directory")
    parser.add_argument("--signals", type=int, default=20_000)
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--purpose", default="bestuurlijke_aanpak")
    parser.add_argument("--kind", choices=["kvk", "bsn"], default="kvk")
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--first", type=int, default=1, help="first identifier number")
    parser.add_argument("--run", default="py", help="idempotency key / case prefix")
    parser.add_argument("--sample", type=int, default=20,
                        help="accepted signals whose status is read back afterwards")
    parser.add_argument("--progress", type=float, default=0,
                        help="print progress on stderr every this many seconds (0: never)")
    args = parser.parse_args()

    try:
        import grpc
    except ImportError:
        sys.exit("grpcio is not installed: pip install -r tests/python/requirements.txt")

    stubs = tempfile.TemporaryDirectory(prefix="signaalnet-stubs-")
    generate_stubs(args.proto, stubs.name)
    from signaalnet.v1 import partner_pb2 as pb
    from signaalnet.v1 import partner_pb2_grpc as rpc

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca),
        private_key=read(args.key),
        certificate_chain=read(args.cert))
    channel = grpc.secure_channel(args.target, credentials)
    grpc.channel_ready_future(channel).result(timeout=30)
    stub = rpc.PartnerServiceStub(channel)

    lock = threading.Lock()
    accepted = [0]
    refused = []
    ends = [None] * args.streams
    finished = [None] * args.streams
    samples = []
    first_id = []

    def request(n):
        if args.kind == "kvk":
            identifier = pb.Identifier(kvk=f"{10_000_000 + n:08}")
        else:
            identifier = pb.Identifier(bsn=bsn(n))
        return pb.SubmitSignalRequest(
            idempotency_key=f"{args.run}/{n}",
            case_reference=f"{args.run}-{n}",
            purpose=args.purpose,
            observed_month=args.month,
            identifiers=[identifier])

    def run_stream(s):
        share = args.signals // args.streams + (1 if s < args.signals % args.streams else 0)
        numbers = (args.first + s + i * args.streams for i in range(share))
        own_accepted = 0
        try:
            for result in stub.SubmitSignals(request(n) for n in numbers):
                if result.WhichOneof("outcome") == "accepted":
                    own_accepted += 1
                    with lock:
                        accepted[0] += 1
                        if not first_id:
                            first_id.append(result.accepted.signal_id)
                        if len(samples) < args.sample * 50:
                            samples.append(result.accepted.signal_id)
                else:
                    with lock:
                        refused.append(result.refused.message[:200])
            ends[s] = {"code": "OK", "results": own_accepted}
        except grpc.RpcError as e:
            ends[s] = {"code": e.code().name, "details": (e.details() or "")[:300],
                       "results": own_accepted}
        finally:
            finished[s] = time.monotonic()

    start = time.monotonic()
    threads = [threading.Thread(target=run_stream, args=(s,)) for s in range(args.streams)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(args.progress or 0.2)
        if args.progress:
            elapsed = time.monotonic() - start
            with lock:
                done = accepted[0] + len(refused)
            print(f"{done}/{args.signals} results after {elapsed:.0f} s "
                  f"({done / max(elapsed, 1e-9):.0f}/s)", file=sys.stderr, flush=True)
    for t in threads:
        t.join()
    # Until the last stream ended, not until this loop noticed.
    elapsed = max(finished) - start

    states = {}
    for signal_id in random.Random(7).sample(samples, min(args.sample, len(samples))):
        status = stub.GetSignalStatus(pb.GetSignalStatusRequest(signal_id=signal_id))
        states[signal_id] = pb.SignalState.Name(status.state)
    channel.close()

    ok = (accepted[0] == args.signals and not refused
          and all(e is not None and e["code"] == "OK" for e in ends))
    print(json.dumps({
        "signals": args.signals,
        "streams": args.streams,
        "accepted": accepted[0],
        "refused": len(refused),
        "first_refusals": refused[:3],
        "ends": ends,
        "first_id": first_id[0] if first_id else None,
        "seconds": round(elapsed, 2),
        "rate": round(args.signals / elapsed, 1) if elapsed > 0 else None,
        "sample_states": states,
        "grpcio": grpc.__version__,
    }))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
