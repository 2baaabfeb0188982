#!/usr/bin/env python3
"""Builds a small ONNX model and onnxruntime's outputs on it, for CrocBot's ONNX adapter test.

Writes Tests/CrocModelsTests/Fixtures/logistic.onnx (float[N, 6] -> float[N, 1]: sigmoid(X·W + b)
with scikit-learn's logistic coefficients from sklearn.json) and onnx_reference.json (inputs and
onnxruntime's outputs).

    pip install onnx onnxruntime numpy
    python3 scripts/onnx_reference.py
    export CROCBOT_ONNXRUNTIME=$(python3 -c "import onnxruntime,os,glob;print(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__),'capi','libonnxruntime.so*'))[0])")
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "CrocModelsTests", "Fixtures")
ref = json.load(open(os.path.join(FIX, "sklearn.json")))["logistic_C_0.5"]
W = np.array(ref["coef"], dtype=np.float32).reshape(6, 1)
b = np.array([ref["intercept"]], dtype=np.float32)
graph = helper.make_graph(
    [helper.make_node("MatMul", ["input", "W"], ["z0"]), helper.make_node("Add", ["z0", "b"], ["z"]),
     helper.make_node("Sigmoid", ["z"], ["probability"])],
    "crocbot_logistic",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 6])],
    [helper.make_tensor_value_info("probability", TensorProto.FLOAT, [None, 1])],
    initializer=[numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b")],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="crocbot-scripts")
model.ir_version = 8
onnx.checker.check_model(model)
path = os.path.join(FIX, "logistic.onnx")
onnx.save(model, path)
rows = np.loadtxt(os.path.join(FIX, "linear.csv"), delimiter=",", skiprows=1)[:5, :6].astype(np.float32)
out = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": rows})[0]
json.dump({"inputs": rows.astype(float).tolist(), "outputs": out[:, 0].astype(float).tolist(), "onnxruntime": ort.__version__},
          open(os.path.join(FIX, "onnx_reference.json"), "w"), indent=1)
print("wrote", path, os.path.getsize(path), "bytes; outputs", out[:, 0])
