#!/usr/bin/python3
"""piv-card.py: a PIV card for tests, attached to pcscd through vsmartcard's
virtual reader (vpcd). It speaks the commands ykcs11 2.2.0 (libykpiv) and
OpenSC 0.23's PIV driver send: SELECT, GET DATA, PUT DATA, VERIFY, GENERATE
ASYMMETRIC KEY PAIR (RSA), GENERAL AUTHENTICATE (RSA signatures and the 3DES
management-key challenge-response), and the YubiKey extensions GET VERSION
and GET SERIAL. The card enforces the PIN: a retry counter (3 tries, then
blocked), and slot 9c needs a VERIFY right before each signature.

  piv-card.py --port PORT --state FILE [--version 5.2.7] [--serial N]
              [--aes-mgm]

The vpcd protocol (vsmartcard's vpcd, over TCP to 127.0.0.1:PORT): every
message is a 2-byte big-endian length and its bytes; a 1-byte message from
vpcd is a control (0 power off, 1 power on, 2 reset, 4 ATR, answered with
the ATR); anything else is a command APDU, answered with the response APDU.
After every command, FILE holds the card's state as JSON (PIN tries left,
counts of VERIFY failures and of signatures per slot) for the tests.
"""
import argparse
import json
import os
import socket
import struct
import sys

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# the ATR of a YubiKey 5 NFC: OpenSC's PIV driver knows it
ATR = bytes.fromhex("3bfd1300008131fe158073c021c057597562694b657940")
PIV_AID = bytes.fromhex("a000000308")
DEFAULT_MGM = bytes.fromhex("010203040506070801020304050607080102030405060708")
SW_OK = b"\x90\x00"
ALGO_BITS = {0x06: 1024, 0x07: 2048, 0x05: 3072, 0x16: 4096}
KEY_SLOTS = {0x9A, 0x9C, 0x9D, 0x9E} | set(range(0x82, 0x96))


def sw(code):
    return struct.pack(">H", code)


def tlv_len(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 0xFF])


def tlv(tag, value):
    t = tag.to_bytes(2, "big") if tag > 0xFF else bytes([tag])
    return t + tlv_len(len(value)) + value


def parse_tlvs(data):
    """[(tag, value)] of a flat BER-TLV list (one- or two-byte tags)."""
    out, i = [], 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            tag = (tag << 8) | data[i]
            i += 1
        n = data[i]
        i += 1
        if n == 0x81:
            n = data[i]
            i += 1
        elif n == 0x82:
            n = (data[i] << 8) | data[i + 1]
            i += 2
        out.append((tag, data[i:i + n]))
        i += n
    return out


class Card:
    def __init__(self, version, serial, state_file, pin=b"123456",
                 aes_mgm=False):
        self.aes_mgm = aes_mgm     # firmware 5.7's AES-192 default key
        self.version = version
        self.serial = serial
        self.state_file = state_file
        self.pin = pin.ljust(8, b"\xff")
        self.pin_tries = 3
        self.mgm = DEFAULT_MGM
        self.objects = {}          # GET DATA tag (bytes) -> value
        # a CHUID as ykman writes it (FASC-N, a GUID from the serial, an
        # expiry date): OpenSC takes the card's serial number from it
        guid = b"\x00" * 12 + struct.pack(">I", serial)
        self.objects[bytes.fromhex("5fc102")] = (
            tlv(0x30, bytes.fromhex("d4e739da739ced39ce739d836858210842108421"
                                    "c84210c3eb")) +
            tlv(0x34, guid) + tlv(0x35, b"20301231") + tlv(0x3E, b"") +
            tlv(0xFE, b""))
        self.keys = {}             # slot -> RSA private key
        self.verify_failures = 0
        self.signatures = {}
        self.refused = {}
        self.reset()

    def reset(self):
        self.selected = False
        self.pin_ok = False
        self.pin_fresh = False     # a VERIFY since the last 9c signature
        self.mgm_ok = False
        self.witness = None
        self.challenge = None
        self.chain = b""
        self.pending = b""

    def save(self):
        st = {"pin_tries": self.pin_tries,
              "verify_failures": self.verify_failures,
              "signatures": {"%02x" % k: v for k, v in self.signatures.items()},
              "refused": {"%02x" % k: v for k, v in self.refused.items()},
              "keys": sorted("%02x" % k for k in self.keys),
              "objects": sorted(k.hex() for k in self.objects)}
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(st, f)
        os.replace(tmp, self.state_file)

    # -------------------------------------------------------------- APDUs
    def apdu(self, c):
        if len(c) < 4:
            return sw(0x6700)
        cla, ins, p1, p2 = c[0], c[1], c[2], c[3]
        data = b""
        if len(c) > 5:
            n = c[4]
            data = c[5:5 + n]
        if ins == 0xC0:                      # GET RESPONSE
            return self.respond(self.pending)
        self.pending = b""
        if cla & 0x10:                       # command chaining
            self.chain += data
            return SW_OK
        data, self.chain = self.chain + data, b""
        handler = {0xA4: self.select, 0xFD: self.get_version,
                   0xF8: self.get_serial, 0xCB: self.get_data,
                   0xDB: self.put_data, 0x20: self.verify,
                   0x47: self.generate, 0x87: self.authenticate}.get(ins)
        if handler is None:
            return sw(0x6D00)
        if ins != 0xA4 and not self.selected:
            return sw(0x6D00)
        try:
            out = handler(p1, p2, data)
        finally:
            self.save()
        if isinstance(out, int):
            return sw(out)
        return self.respond(out)

    def respond(self, data):
        if len(data) > 256:
            self.pending = data[256:]
            rest = len(self.pending)
            return data[:256] + bytes([0x61, rest if rest < 256 else 0])
        self.pending = b""
        return data + SW_OK

    def select(self, p1, p2, data):
        if p1 == 0x04 and data.startswith(PIV_AID):
            self.selected = True
            apt = tlv(0x4F, bytes.fromhex("000010000100")) + \
                tlv(0x79, tlv(0x4F, PIV_AID))
            return tlv(0x61, apt)
        self.selected = False
        return 0x6A82

    def get_version(self, p1, p2, data):
        return bytes(self.version)

    def get_serial(self, p1, p2, data):
        return struct.pack(">I", self.serial)

    def get_data(self, p1, p2, data):
        tags = dict(parse_tlvs(data))
        tag = tags.get(0x5C)
        if tag is None:
            return 0x6A80
        if tag not in self.objects:
            return 0x6A82
        return tlv(0x53, self.objects[tag])

    def put_data(self, p1, p2, data):
        if not self.mgm_ok:
            return 0x6982
        items = parse_tlvs(data)
        tag = dict(items).get(0x5C)
        value = dict(items).get(0x53)
        if tag is None or value is None:
            return 0x6A80
        if value:
            self.objects[tag] = value
        else:
            self.objects.pop(tag, None)
        return SW_OK[:0]

    def verify(self, p1, p2, data):
        if p2 != 0x80:
            return 0x6A88
        if p1 == 0xFF:
            self.pin_ok = self.pin_fresh = False
            return b""
        if self.pin_tries == 0:
            return 0x6983
        if not data:
            return b"" if self.pin_ok else 0x63C0 | self.pin_tries
        if data == self.pin:
            self.pin_tries = 3
            self.pin_ok = self.pin_fresh = True
            return b""
        self.pin_tries -= 1
        self.verify_failures += 1
        self.pin_ok = self.pin_fresh = False
        return 0x6983 if self.pin_tries == 0 else 0x63C0 | self.pin_tries

    def generate(self, p1, p2, data):
        if not self.mgm_ok:
            return 0x6982
        if p2 not in KEY_SLOTS:
            return 0x6A86
        tmpl = dict(parse_tlvs(data)).get(0xAC)
        if tmpl is None:
            return 0x6A80
        algo = dict(parse_tlvs(tmpl)).get(0x80, b"\x00")[0]
        bits = ALGO_BITS.get(algo)
        if bits is None or (bits > 2048 and self.version < [5, 7, 0]):
            return 0x6A80
        key = rsa.generate_private_key(65537, bits)
        self.keys[p2] = key
        pub = key.public_key().public_numbers()
        n = pub.n.to_bytes(bits // 8, "big")
        e = pub.e.to_bytes(3, "big")
        return tlv(0x7F49, tlv(0x81, n) + tlv(0x82, e))

    def cipher(self):
        return Cipher(algorithms.TripleDES(self.mgm), modes.ECB())

    def authenticate(self, p1, p2, data):
        outer = dict(parse_tlvs(data)).get(0x7C)
        if outer is None:
            return 0x6A80
        items = dict(parse_tlvs(outer))
        if p2 == 0x9B:
            return self.mgm_auth(p1, items)
        return self.sign(p1, p2, items)

    def mgm_auth(self, p1, items):
        if p1 not in (0x00, 0x03) or (self.aes_mgm and p1 != 0x0A):
            return 0x6A86
        enc = self.cipher().encryptor()
        if 0x80 in items and not items[0x80]:       # witness asked for
            self.witness = os.urandom(8)
            self.mgm_ok = False
            return tlv(0x7C, tlv(0x80, enc.update(self.witness)))
        if 0x80 in items and 0x81 in items:         # witness + challenge
            ok = self.witness is not None and items[0x80] == self.witness
            self.witness = None
            if not ok:
                return 0x6982
            self.mgm_ok = True
            return tlv(0x7C, tlv(0x82, enc.update(items[0x81])))
        if 0x81 in items and not items[0x81]:       # challenge asked for
            self.challenge = os.urandom(8)
            return tlv(0x7C, tlv(0x81, self.challenge))
        if 0x82 in items and self.challenge is not None:
            ok = items[0x82] == enc.update(self.challenge)
            self.challenge = None
            self.mgm_ok = ok
            return b"" if ok else 0x6982
        return 0x6A80

    def sign(self, p1, slot, items):
        key = self.keys.get(slot)
        if key is None or ALGO_BITS.get(p1) != key.key_size:
            return 0x6A80
        needs_pin = slot != 0x9E
        if needs_pin and (not self.pin_ok or
                          (slot == 0x9C and not self.pin_fresh)):
            self.refused[slot] = self.refused.get(slot, 0) + 1
            return 0x6982
        m = items.get(0x81)
        if m is None or len(m) != key.key_size // 8:
            return 0x6A80
        priv = key.private_numbers()
        n = priv.public_numbers.n
        s = pow(int.from_bytes(m, "big"), priv.d, n)
        if slot == 0x9C:
            self.pin_fresh = False   # PIN policy "always" for 9c
        self.signatures[slot] = self.signatures.get(slot, 0) + 1
        return tlv(0x7C, tlv(0x82, s.to_bytes(key.key_size // 8, "big")))


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        # vpcd writes the length and the APDU apart: an ACK at once lets
        # its second write go without waiting for the delayed ACK (40 ms)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0x8C7B)
    ap.add_argument("--state", required=True)
    ap.add_argument("--version", default="5.2.7")
    ap.add_argument("--serial", type=int, default=12345678)
    ap.add_argument("--aes-mgm", action="store_true",
                    help="an AES-192 management key (refuses 3DES)")
    a = ap.parse_args()
    card = Card([int(x) for x in a.version.split(".")], a.serial, a.state,
                aes_mgm=a.aes_mgm)
    card.save()
    s = None
    for _ in range(100):
        try:
            s = socket.create_connection(("127.0.0.1", a.port))
            # one APDU at a time: without this each answer waits for the
            # peer's delayed ACK (40 ms)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            break
        except OSError:
            import time
            time.sleep(0.1)
    if s is None:
        sys.exit("piv-card: vpcd does not listen on 127.0.0.1:%d" % a.port)
    while True:
        try:
            n = struct.unpack(">H", recv_exact(s, 2))[0]
            msg = recv_exact(s, n)
        except (EOFError, OSError):
            return
        if n == 1:
            if msg[0] == 4:
                s.sendall(struct.pack(">H", len(ATR)) + ATR)
            else:
                card.reset()
            continue
        rsp = card.apdu(msg)
        s.sendall(struct.pack(">H", len(rsp)) + rsp)


if __name__ == "__main__":
    main()
