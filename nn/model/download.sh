#!/bin/sh
# Downloads the ONNX model zoo's MobileNetV2 (mobilenetv2-7.onnx) into DIR (default ./models),
# checks its sha256 and writes its sidecar. Labels: the 1001-line ImageNet file with class 0 =
# background (label_offset 1), copied from ../shared/models when present.
set -eu
DIR=${1:-models}
URL=https://media.githubusercontent.com/media/onnx/models/13fcb614fdedcc09864c0691c080ccf82ca3b85b/vision/classification/mobilenet/model/mobilenetv2-7.onnx
SHA256=c1c513582d56afceff8516c73804e484c81c6a830712ab6d682253f4a3cd042f
mkdir -p "$DIR"
if [ ! -f "$DIR/mobilenetv2-7.onnx" ]; then
	curl -fL --retry 3 -o "$DIR/mobilenetv2-7.onnx.tmp" "$URL"
	echo "$SHA256  $DIR/mobilenetv2-7.onnx.tmp" | sha256sum -c -
	mv "$DIR/mobilenetv2-7.onnx.tmp" "$DIR/mobilenetv2-7.onnx"
fi
if [ ! -f "$DIR/imagenet_labels.txt" ] && [ -f ../shared/models/imagenet_labels.txt ]; then
	cp ../shared/models/imagenet_labels.txt "$DIR/"
fi
cat > "$DIR/model.json" <<JSON
{"model":"mobilenetv2-7.onnx","layout":"NCHW","width":224,"height":224,
 "mean":[123.675,116.28,103.53],"std":[58.395,57.12,57.375],
 "labels":"imagenet_labels.txt","label_offset":1,"softmax":true}
JSON
echo "model in $DIR"
