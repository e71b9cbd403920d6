# Shared by bench scripts: `. bench/lib.sh` from the repository root.

# oggedge_bin: prints the oggedge binary to benchmark: $OGGEDGE_BIN, else a fresh release build.
oggedge_bin() {
  if [ -n "${OGGEDGE_BIN:-}" ]; then
    echo "$OGGEDGE_BIN"
  else
    swift build -c release --product oggedge >/dev/null
    echo "$(swift build -c release --show-bin-path)/oggedge"
  fi
}

# bench_templates TRACKS_DIR OUT_DIR NAME_REGEX SECRET_B64 NGINX_SECRET: writes OUT_DIR/o.tpl
# (OggEdge, HMAC-signed for kid "bench") and OUT_DIR/n.tpl (nginx secure_link MD5), one
# "TARGET SIZE" line per file of TRACKS_DIR whose name matches the Python regex NAME_REGEX.
bench_templates() {
  python3 - "$@" <<'PY'
import base64, hashlib, hmac, os, re, sys, time
tracks, out, pattern, secret, ns = sys.argv[1], sys.argv[2], re.compile(sys.argv[3]), base64.b64decode(sys.argv[4]), sys.argv[5]
exp = int(time.time()) + 86400
b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
with open(out + "/o.tpl", "w") as o, open(out + "/n.tpl", "w") as n:
    for name in sorted(x for x in os.listdir(tracks) if pattern.search(x)):
        uri = "/tracks/" + name; size = os.path.getsize(os.path.join(tracks, name))
        msg = f"{uri}?exp={exp}&kid=bench"
        print(f"{msg}&sig={b64(hmac.new(secret, msg.encode(), hashlib.sha256).digest())}", size, file=o)
        print(f"{uri}?md5={b64(hashlib.md5(f'{exp}{uri} {ns}'.encode()).digest())}&expires={exp}", size, file=n)
PY
}

# bench_nginx_conf FILE WORK_DIR PORT NGINX_SECRET: the nginx of the TTFB benchmarks (1 worker,
# secure_link MD5 check, sendfile, buffered access log, keep-alive connections never closed for
# their request count, like OggEdge's) serving WORK_DIR/media on 127.0.0.1:PORT.
bench_nginx_conf() {
  cat >"$1" <<NGINX
worker_processes 1;
pid $2/nginx.pid;
error_log $2/nginx-error.log;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  sendfile on;
  keepalive_requests 1000000;
  access_log $2/nginx-access.log combined buffer=64k flush=1s;
  server {
    listen 127.0.0.1:$3;
    root $2/media;
    location /tracks/ {
      secure_link \$arg_md5,\$arg_expires;
      secure_link_md5 "\$secure_link_expires\$uri $4";
      if (\$secure_link = "") { return 403; }
      if (\$secure_link = "0") { return 410; }
    }
  }
}
NGINX
}
