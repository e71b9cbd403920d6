"""Idle keep-alive connections held for a whole soak (bench/soak.py): each sends `GET /healthz`
every 40-55 s (inside the server's 60 s idle timeout) and is reopened if the server closes it."""
import random, selectors, socket, time

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: idle\r\n\r\n"


class IdleHolder:
    def __init__(self, host, port, count, stop):
        self.host, self.port, self.count, self.stop = host, port, count, stop
        self.requests = 0          # requests sent (each is one delivery record)
        self.answered = 0
        self.reopened = 0
        self.connect_errors = 0
        self.peak = 0

    def _open(self, sel, rng):
        try:
            s = socket.create_connection((self.host, self.port), timeout=10)
        except OSError:
            self.connect_errors += 1
            return
        s.setblocking(False)
        # The first request goes out at once (a connection that sends no head within 10 s is
        # cut: slowloris protection); then one every 40-55 s keeps it inside the idle timeout.
        sel.register(s, selectors.EVENT_READ, {"due": time.time() + rng.uniform(0, 1), "waiting": False, "buf": b""})

    def run(self):
        rng = random.Random(5)
        sel = selectors.DefaultSelector()
        for _ in range(self.count):
            self._open(sel, rng)
        self.peak = len(sel.get_map())
        while not self.stop.is_set():
            now = time.time()
            for key in list(sel.get_map().values()):
                st = key.data
                if not st["waiting"] and now >= st["due"]:
                    try:
                        key.fileobj.send(REQUEST)
                        self.requests += 1
                        st["waiting"] = True
                    except OSError:
                        self._drop(sel, key, rng)
            for key, _ in sel.select(timeout=0.5):
                try:
                    data = key.fileobj.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._drop(sel, key, rng)
                    continue
                st = key.data
                st["buf"] += data
                if self._complete(st["buf"]):
                    self.answered += 1
                    st["buf"], st["waiting"], st["due"] = b"", False, time.time() + rng.uniform(40, 55)
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()

    @staticmethod
    def _complete(buf):
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        length = 0
        for line in buf[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return len(buf) >= end + 4 + length

    def _drop(self, sel, key, rng):
        sel.unregister(key.fileobj)
        key.fileobj.close()
        self.reopened += 1
        if not self.stop.is_set():
            self._open(sel, rng)

    def summary(self):
        return {"held": self.count, "peak": self.peak, "requests": self.requests, "answered": self.answered,
                "reopened": self.reopened, "connect_errors": self.connect_errors}
