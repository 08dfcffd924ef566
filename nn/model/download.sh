#!/bin/sh
# Downloads the ONNX model zoo's MobileNetV2 (mobilenetv2-7.onnx) into DIR (default ./models),
# with the 1001-line ImageNet labels (class 0 = background, hence label_offset 1 for the zoo's
# 1000 classes), checks both sha256 sums and writes the sidecar model.json that nn/model, the
# MobileNet action, the images and the demo read. Labels are copied from ../shared/models when
# present, else downloaded from Coral's test_data at a pinned commit.
set -eu
DIR=${1:-models}
URL=https://media.githubusercontent.com/media/onnx/models/13fcb614fdedcc09864c0691c080ccf82ca3b85b/vision/classification/mobilenet/model/mobilenetv2-7.onnx
SHA256=c1c513582d56afceff8516c73804e484c81c6a830712ab6d682253f4a3cd042f
LABELS_URL=https://raw.githubusercontent.com/google-coral/test_data/104342d2d3480b3e66203073dac24f4e2dbb4c41/imagenet_labels.txt
LABELS_SHA256=b8aaeb5630c62626a7d124a05c0e14230a7ffdd2136a31d0190a4fb71c1d82f1

fetch() { # fetch URL SHA256 FILE
	curl -fL --retry 3 -o "$3.tmp" "$1"
	echo "$2  $3.tmp" | sha256sum -c -
	mv "$3.tmp" "$3"
}

mkdir -p "$DIR"
[ -f "$DIR/mobilenetv2-7.onnx" ] || fetch "$URL" "$SHA256" "$DIR/mobilenetv2-7.onnx"
if [ ! -f "$DIR/imagenet_labels.txt" ]; then
	here=$(cd "$(dirname "$0")/../.." && pwd)
	if [ -f "$here/../shared/models/imagenet_labels.txt" ]; then
		cp "$here/../shared/models/imagenet_labels.txt" "$DIR/"
	else
		fetch "$LABELS_URL" "$LABELS_SHA256" "$DIR/imagenet_labels.txt"
	fi
fi
echo "$LABELS_SHA256  $DIR/imagenet_labels.txt" | sha256sum -c - >/dev/null
cat > "$DIR/model.json" <<JSON
{"model":"mobilenetv2-7.onnx","layout":"NCHW","width":224,"height":224,
 "mean":[123.675,116.28,103.53],"std":[58.395,57.12,57.375],
 "labels":"imagenet_labels.txt","label_offset":1,"softmax":true}
JSON
echo "model in $DIR: mobilenetv2-7.onnx, imagenet_labels.txt, model.json"
