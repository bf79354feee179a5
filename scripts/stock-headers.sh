#!/usr/bin/env bash
# Prints the include dir of Debian's stock libqb-dev headers, unpacked (never
# installed) into target/stock-dev with apt-get download + dpkg -x.
set -euo pipefail
dir=${STOCK_DEV_DIR:-${CARGO_TARGET_DIR:-target}/stock-dev}
if [ ! -f "$dir/usr/include/qb/qbdefs.h" ]; then
	mkdir -p "$dir/deb"
	(cd "$dir/deb" && apt-get download -q libqb-dev >/dev/null 2>&1) ||
		{ echo "stock-headers: apt-get download libqb-dev failed" >&2; exit 1; }
	dpkg -x "$dir"/deb/libqb-dev_*.deb "$dir"
fi
echo "$dir/usr/include"
