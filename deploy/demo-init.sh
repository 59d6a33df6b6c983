#!/bin/sh
# compose.yaml's one-shot `init`: the four demo centres' node directories and
# their genesis roster, in the shared volume, unless they exist already.
set -eu
base=/var/lib/cairn
[ -f "$base/eu-centre/genesis.json" ] && { echo "federation already made in $base"; exit 0; }
for n in eu-centre ncmec c3p esafety; do
  node /app/bin/cairn.mjs keygen --dir "$base/$n" --origin "demo.cairn/$n" \
    --host 0.0.0.0 --p2p-port 4001 --http-port 8080 --advertise "/dns4/$n/tcp/4001" >/dev/null
done
node /app/bin/cairn.mjs federation init --federation demo.cairn \
  --node-dir "$base/eu-centre" "$base/ncmec" "$base/c3p" "$base/esafety" --out "$base/genesis.json"
echo "federation demo.cairn made in $base"
