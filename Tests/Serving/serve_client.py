#!/usr/bin/env python3
"""Calls a running `octet serve` with the real Triton clients (tritonclient.http and tritonclient.grpc) and checks
every answer: metadata, FP32 inference in JSON and binary, an image file as BYTES with the classification
extension, malformed requests (4xx, and the server keeps serving), metrics. The Swift test ServingTests starts the
server on free loopback ports and passes what `octet run` printed for the same inputs; this script compares.

Usage: serve_client.py --http HOST:PORT --grpc HOST:PORT --metrics HOST:PORT --model NAME
                       --input x.npy --output y.npy --image photo.jpg --top5 run.json
       serve_client.py --http HOST:PORT --model NAME --input x.npy --output y.npy --drain PID --requests N
Prints one line per check and closes with 'N passed, N failed'; exits 1 on any failure.
"""
import argparse
import http.client
import json
import os
import signal
import sys
import threading
import time

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

passed, failed = 0, 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def raw_post(address, path, body, headers=None):
    """A request tritonclient would never send: the status and the decoded JSON answer."""
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request("POST", path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, data


def parse_classes(values):
    """'probability:index:label' strings as (float32 probability, index, label)."""
    result = []
    for item in values.reshape(-1):
        text = item.decode() if isinstance(item, bytes) else str(item)
        probability, index, label = text.split(":", 2)
        result.append((np.float32(probability), int(index), label))
    return result


def expected_classes(path):
    run = json.loads(open(path).read().splitlines()[0])
    return [(np.float32(entry["probability"]), entry["class"], entry["label"]) for entry in run["top5"]]


def check_http(args, x, y, image, top5):
    client = httpclient.InferenceServerClient(args.http, concurrency=4)
    check("http live", client.is_server_live())
    check("http ready", client.is_server_ready())
    metadata = client.get_server_metadata()
    check("http server metadata", metadata["name"] == "octet" and "classification" in metadata["extensions"]
          and "binary_tensor_data" in metadata["extensions"], metadata)
    model = client.get_model_metadata(args.model)
    input_meta = model["inputs"][0]
    check("http model metadata", input_meta["datatype"] == "FP32" and input_meta["shape"] == [-1] + list(x.shape[1:]), model)
    check("http model ready", client.is_model_ready(args.model))
    output_name = model["outputs"][0]["name"]

    for binary in (False, True):
        tensor = httpclient.InferInput(input_meta["name"], list(x.shape), "FP32")
        tensor.set_data_from_numpy(x, binary_data=binary)
        output = httpclient.InferRequestedOutput(output_name, binary_data=binary)
        result = client.infer(args.model, [tensor], outputs=[output], request_id="fp32")
        got = result.as_numpy(output_name)
        check(f"http FP32 infer ({'binary' if binary else 'JSON'}) equals octet run's output", got is not None
              and got.shape == y.shape and np.array_equal(got, y), "" if got is None else f"max diff {np.abs(got - y).max()}")

    files = np.array([image], dtype=np.object_)
    tensor = httpclient.InferInput(input_meta["name"], [1], "BYTES")
    tensor.set_data_from_numpy(files, binary_data=True)
    output = httpclient.InferRequestedOutput(output_name, binary_data=False, class_count=5)
    result = client.infer(args.model, [tensor], outputs=[output])
    classes = parse_classes(result.as_numpy(output_name))
    check("http JPEG as BYTES: classification top-5 equals octet run (labels and probabilities)", classes == top5, f"{classes} vs {top5}")

    path = f"/v2/models/{args.model}/infer"
    good = json.dumps({"inputs": [{"name": input_meta["name"], "shape": list(x.shape), "datatype": "FP32", "data": x.reshape(-1).tolist()}]})
    malformed = {
        "not JSON": (b"{\"inputs\": [", {}),
        "no inputs": (b"{}", {}),
        "wrong shape": (json.dumps({"inputs": [{"name": input_meta["name"], "shape": [1, 3, 7], "datatype": "FP32", "data": [0.0] * 21}]}).encode(), {}),
        "data count differs from shape": (json.dumps({"inputs": [{"name": input_meta["name"], "shape": list(x.shape), "datatype": "FP32", "data": [1.0, 2.0]}]}).encode(), {}),
        "wrong datatype": (json.dumps({"inputs": [{"name": input_meta["name"], "shape": [1], "datatype": "INT64", "data": [1]}]}).encode(), {}),
        "unknown input": (json.dumps({"inputs": [{"name": "nope", "shape": [1], "datatype": "FP32", "data": [1.0]}]}).encode(), {}),
        "truncated binary data": (b'{"inputs":[{"name":"' + input_meta["name"].encode() + b'","shape":[1,3,224,224],"datatype":"FP32","parameters":{"binary_data_size":602112}}]}' + b"\0" * 1000,
                                  {"Inference-Header-Content-Length": None}),
        "header length past the body": (b"{}", {"Inference-Header-Content-Length": "99999"}),
        "BYTES that is no image": (b'{"inputs":[{"name":"' + input_meta["name"].encode() + b'","shape":[1],"datatype":"BYTES","data":["hello"]}]}', {}),
        "classification out of range": (json.dumps({"inputs": json.loads(good)["inputs"], "outputs": [{"name": output_name, "parameters": {"classification": 100000}}]}).encode(), {}),
    }
    for name, (body, headers) in malformed.items():
        if headers.get("Inference-Header-Content-Length", "") is None:
            headers = {"Inference-Header-Content-Length": str(body.index(b"}]}") + 3)}
        status, answer = raw_post(args.http, path, body, headers)
        check(f"http malformed request ({name}) gets 400 with an error", status == 400 and isinstance(answer, dict) and "error" in answer, f"{status} {answer}")
    status, answer = raw_post(args.http, "/v2/models/no_such_model/infer", good.encode())
    check("http unknown model gets 404", status == 404 and "error" in answer, f"{status} {answer}")
    status, answer = raw_post(args.http, path, good.encode())
    check("http still serves after malformed requests", status == 200 and answer["outputs"][0]["shape"] == list(y.shape), status)


def check_grpc(args, x, y, image, top5):
    client = grpcclient.InferenceServerClient(args.grpc)
    check("grpc live", client.is_server_live())
    check("grpc ready", client.is_server_ready())
    metadata = client.get_server_metadata()
    check("grpc server metadata", metadata.name == "octet" and "classification" in metadata.extensions, metadata)
    model = client.get_model_metadata(args.model)
    check("grpc model metadata", model.inputs[0].datatype == "FP32" and list(model.inputs[0].shape) == [-1] + list(x.shape[1:]), model)
    check("grpc model ready", client.is_model_ready(args.model))
    input_name, output_name = model.inputs[0].name, model.outputs[0].name

    tensor = grpcclient.InferInput(input_name, list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    result = client.infer(args.model, [tensor], outputs=[grpcclient.InferRequestedOutput(output_name)])
    got = result.as_numpy(output_name)
    check("grpc FP32 infer equals octet run's output", got is not None and np.array_equal(got, y))

    tensor = grpcclient.InferInput(input_name, [1], "BYTES")
    tensor.set_data_from_numpy(np.array([image], dtype=np.object_))
    result = client.infer(args.model, [tensor], outputs=[grpcclient.InferRequestedOutput(output_name, class_count=5)])
    classes = parse_classes(result.as_numpy(output_name))
    check("grpc JPEG as BYTES: classification top-5 equals octet run", classes == top5, f"{classes} vs {top5}")

    try:
        tensor = grpcclient.InferInput(input_name, [1, 3, 7], "FP32")
        tensor.set_data_from_numpy(np.zeros((1, 3, 7), dtype=np.float32))
        client.infer(args.model, [tensor])
        check("grpc wrong shape is refused", False, "no error")
    except InferenceServerException as error:
        check("grpc wrong shape is refused with INVALID_ARGUMENT", "INVALID_ARGUMENT" in str(error.status()), error)
    try:
        client.get_model_metadata("no_such_model")
        check("grpc unknown model is refused", False, "no error")
    except InferenceServerException as error:
        check("grpc unknown model is refused with NOT_FOUND", "NOT_FOUND" in str(error.status()), error)
    tensor = grpcclient.InferInput(input_name, list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    check("grpc still serves after refusals", np.array_equal(client.infer(args.model, [tensor]).as_numpy(output_name), y))


def check_metrics(args):
    host, port = args.metrics.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    for name in ("octet_inference_request_success_total", "octet_inference_request_failure_total", "octet_inference_samples_total",
                 "octet_request_duration_seconds_bucket", "octet_queue_duration_seconds_bucket", "octet_compute_duration_seconds_bucket",
                 "octet_batch_size_bucket"):
        check(f"metrics expose {name}", f'{name}{{' in text and f'model="{args.model}"' in text)


def check_drain(args, x, y):
    """SIGTERM while requests wait in the dynamic batching queue: every request the server accepted is answered."""
    client = httpclient.InferenceServerClient(args.http, concurrency=args.requests)
    model = client.get_model_metadata(args.model)
    tensor = httpclient.InferInput(model["inputs"][0]["name"], list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=True)
    pending = [client.async_infer(args.model, [tensor]) for _ in range(args.requests)]
    time.sleep(0.5)  # sent and queued: the model's batching delay holds them
    os.kill(args.drain, signal.SIGTERM)
    answered = 0
    for request in pending:
        try:
            if np.array_equal(request.get_result().as_numpy(model["outputs"][0]["name"]), y):
                answered += 1
        except InferenceServerException as error:
            print(f"     request failed: {error}")
    check(f"SIGTERM under load: {answered} of {args.requests} accepted requests answered", answered == args.requests)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--http")
    parser.add_argument("--grpc")
    parser.add_argument("--metrics")
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--image")
    parser.add_argument("--top5")
    parser.add_argument("--drain", type=int)
    parser.add_argument("--requests", type=int, default=8)
    args = parser.parse_args()
    x, y = np.load(args.input).astype(np.float32), np.load(args.output).astype(np.float32)
    if args.drain:
        check_drain(args, x, y)
    else:
        image = open(args.image, "rb").read()
        top5 = expected_classes(args.top5)
        check_http(args, x, y, image, top5)
        check_grpc(args, x, y, image, top5)
        check_metrics(args)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
