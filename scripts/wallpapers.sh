#!/bin/sh
# wallpapers.sh: more training photographs, from Debian's wallpaper packages
# (DESIGN.md, "Data": BSDS500 is small for a learned codec).
#
#   scripts/wallpapers.sh [OUT]        (OUT defaults to data/wallpapers)
#
# Installs the packages named in scripts/wallpapers.txt (as root, with
# apt-get; skipped when they are there) and writes each photograph the list
# names, scaled down with `nic convert --max-side ${MAX_SIDE:-1536}` (area
# average: also softens the JPEG artefacts and sensor noise of the originals),
# as OUT/<package>-<name>.png. Train on it beside BSDS500 with
#   nic train --data ../shared/data/bsds500/train:../shared/data/bsds500/test:data/wallpapers
#
# The list holds only photographs (the packages also carry drawings,
# gradients and logos, which are no material for a photo codec): 37 pictures
# picked by eye on 2026-12-07 from mate-backgrounds, plasma-workspace-wallpapers
# and lomiri-wallpapers(-16.04, -20.04), the largest size of each (1280x1024
# to 6028x3391). Their licences are the packages' (see
# /usr/share/doc/<package>/copyright); nothing of them is committed here.
# nic: ${NIC:-build/nic}.
set -eu

NIC=${NIC:-build/nic}
OUT=${1:-data/wallpapers}
LIST=$(dirname "$0")/wallpapers.txt
MAX_SIDE=${MAX_SIDE:-1536}

[ -x "$NIC" ] || { echo "wallpapers.sh: $NIC is missing: run make first" >&2; exit 1; }
packages=$(awk '!/^#/ && NF {print $1}' "$LIST" | sort -u)
missing=""
for p in $packages; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "wallpapers.sh: installing$missing" >&2
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "wallpapers.sh: run as root, or: sudo apt-get install$missing" >&2
        exit 1
    fi
fi
mkdir -p "$OUT"
n=0
total=$(awk '!/^#/ && NF' "$LIST" | wc -l)
awk '!/^#/ && NF {print $1, $2}' "$LIST" | while read -r pkg path; do
    n=$((n + 1))
    name=$(basename "$path" | sed 's/\.[^.]*$//')
    case "$path" in # plasma: the theme's folder names the picture
    */wallpapers/*/contents/*) name=$(echo "$path" | sed 's|.*/wallpapers/\([^/]*\)/.*|\1|') ;;
    esac
    out="$OUT/$pkg-$name.png"
    if [ -s "$out" ]; then
        continue
    fi
    [ -f "$path" ] || { echo "wallpapers.sh: $path is missing (package $pkg changed?)" >&2; exit 1; }
    "$NIC" convert --quiet --max-side "$MAX_SIDE" "$path" "$out.tmp.png"
    mv "$out.tmp.png" "$out"
    echo "wallpapers.sh: $n/$total $out" >&2
done
echo "wallpapers.sh: $(ls "$OUT"/*.png | wc -l) photographs in $OUT" >&2
