"""HTTP pieces of the soak driver (bench/soak.py): signing, one request on a keep-alive
connection, raw-socket clients (slow, stalled, hanging up), and an Ogg structure check.
Standard library only."""
import base64, hashlib, hmac, http.client, socket, struct, time, zlib


class Signer:
    def __init__(self, kid, secret_b64):
        self.kid, self.secret = kid, base64.b64decode(secret_b64)

    def sign(self, path, uid):
        query = "exp=%d&kid=%s&uid=%s" % (int(time.time()) + 3600, self.kid, uid)
        mac = hmac.new(self.secret, (path + "?" + query).encode(), hashlib.sha256).digest()
        return path + "?" + query + "&sig=" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


class Answer:
    """One response as the client saw it."""

    def __init__(self, status, headers, body, error=None):
        self.status, self.headers, self.body, self.error = status, headers, body, error

    def header(self, name):
        return self.headers.get(name.lower())


def request(conn_box, host, port, method, target, headers=None, timeout=60):
    """Sends one request on the connection in conn_box[0] (opened if needed), reads the whole
    answer. A connection error gives Answer(None, ...) with `error` set and drops the connection."""
    if conn_box[0] is None:
        conn_box[0] = http.client.HTTPConnection(host, port, timeout=timeout)
    conn = conn_box[0]
    try:
        conn.request(method, target, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if resp.will_close:
            conn.close()
            conn_box[0] = None
        return Answer(resp.status, hdrs, body)
    except (OSError, http.client.HTTPException) as e:
        conn.close()
        conn_box[0] = None
        return Answer(None, {}, b"", error=type(e).__name__ + ": " + str(e))


def raw_get(host, port, target, rcvbuf=None, timeout=60):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((host, port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target).encode())
    return s


def split_head(data):
    """(status, headers dict, body bytes) of a raw response, or None while the head is incomplete."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, data[end + 4:]


def slow_read(host, port, target, bytes_per_step, step_seconds):
    """Reads a whole close-delimited/Content-Length answer slowly. Returns (status, headers, body, seconds)."""
    start = time.time()
    s = raw_get(host, port, target, rcvbuf=16384)
    data = b""
    try:
        while True:
            chunk = s.recv(bytes_per_step)
            if not chunk:
                break
            data += chunk
            time.sleep(step_seconds)
    except OSError:
        pass
    finally:
        s.close()
    parsed = split_head(data)
    if parsed is None:
        return None, {}, b"", time.time() - start
    return parsed[0], parsed[1], parsed[2], time.time() - start


def stalled_read(host, port, target, first_bytes, give_up_after):
    """Reads `first_bytes`, then stops reading until the server cuts the connection (it must, at
    its send deadline). Returns (status, seconds until the cut was seen or None, bytes read)."""
    start = time.time()
    s = raw_get(host, port, target, rcvbuf=4096)
    data = b""
    try:
        while len(data) < first_bytes:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        # Stop reading. Poll now and then with a tiny peek: when the server has closed, the
        # buffered bytes are followed by EOF (or a reset), which only draining shows.
        time.sleep(give_up_after)
        s.settimeout(5)
        cut = None
        try:
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    cut = time.time() - start
                    break
                data += chunk
                if len(data) > (64 << 20):
                    break
        except ConnectionResetError:
            cut = time.time() - start
        except OSError:
            cut = None
    finally:
        s.close()
    parsed = split_head(data)
    if parsed is None:
        return None, cut, len(data)
    length = parsed[1].get("content-length")
    if length is not None and len(parsed[2]) >= int(length):
        cut = None  # it was all delivered: nothing was cut
    return parsed[0], cut, len(data)


def hang_up(host, port, target, after_bytes):
    """Reads a few bytes of the answer and closes. Returns (status, body bytes read)."""
    s = raw_get(host, port, target)
    data = b""
    try:
        while len(data) < after_bytes:
            chunk = s.recv(16384)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    s.close()
    parsed = split_head(data)
    return (parsed[0] if parsed else None), len(parsed[2]) if parsed else 0


def ogg_check(body):
    """Checks a whole Ogg stream: capture patterns, CRCs, one serial, contiguous page sequence,
    BOS first and EOS last. Returns None when fine, else what is wrong."""
    offset, seq, serial, pages = 0, None, None, 0
    while offset < len(body):
        if body[offset:offset + 4] != b"OggS" or len(body) < offset + 27:
            return "no page at %d" % offset
        flags = body[offset + 5]
        ser, sq = struct.unpack_from("<II", body, offset + 14)
        nseg = body[offset + 26]
        if len(body) < offset + 27 + nseg:
            return "truncated page at %d" % offset
        size = 27 + nseg + sum(body[offset + 27:offset + 27 + nseg])
        if len(body) < offset + size:
            return "truncated page at %d" % offset
        page = bytearray(body[offset:offset + size])
        want = struct.unpack_from("<I", page, 22)[0]
        page[22:26] = b"\0\0\0\0"
        if ogg_crc(page) != want:
            return "bad CRC at %d" % offset
        if pages == 0 and not flags & 2:
            return "first page is not BOS"
        if serial is not None and ser != serial:
            return "serial changes at %d" % offset
        if seq is not None and sq != seq + 1:
            return "page sequence jumps at %d" % offset
        serial, seq, pages = ser, sq, pages + 1
        last_flags = flags
        offset += size
    if pages == 0:
        return "empty"
    if not last_flags & 4:
        return "last page is not EOS"
    return None


def _crc_table():
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_TABLE = _crc_table()


def ogg_crc_slow(data):
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _TABLE[((crc >> 24) & 0xFF) ^ b]
    return crc


_REFLECT = bytes(int("{:08b}".format(i)[::-1], 2) for i in range(256))


def ogg_crc(data):
    """Ogg's CRC (poly 0x04C11DB7, not reflected, init 0, no final xor) through zlib's reflected
    CRC-32 on bit-reversed bytes: the same register, mirrored."""
    raw = ~zlib.crc32(bytes(data).translate(_REFLECT), 0xFFFFFFFF) & 0xFFFFFFFF
    return int("{:032b}".format(raw)[::-1], 2)


class Resp:
    """A minimal RESP client (Redis), enough for PING, XLEN and XRANGE."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def command(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._read()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise OSError("redis closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise OSError("redis closed")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise OSError("bad RESP " + repr(line))

    def close(self):
        self.sock.close()
