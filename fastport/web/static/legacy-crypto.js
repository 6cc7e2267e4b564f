/* End-to-end encryption in the legacy format (legacy-json.md §6), with WebCrypto:
   AES-256-CBC/PKCS#7 with a fresh 16-byte IV, data = base64(iv) + ":" + base64(ct),
   hash = lowercase hex SHA-256 of the UTF-8 bytes of data. Not authenticated: the hash
   catches corruption, not an attacker. WebCrypto needs a secure context (https, or
   http on localhost / 127.0.0.1). */
"use strict";

const legacyCrypto = (() => {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder("utf-8", { fatal: true });

  function toBase64(bytes) {
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    return btoa(binary);
  }

  function fromBase64(text) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) throw new Error("not standard base64");
    return Uint8Array.from(atob(text), c => c.charCodeAt(0));
  }

  function toHex(bytes) {
    return Array.from(bytes, b => b.toString(16).padStart(2, "0")).join("");
  }

  /** A 32-byte key from base64 (44 characters) or hex (64: a session's secret key). */
  function parseKey(text) {
    text = text.trim();
    let bytes;
    if (/^[0-9a-fA-F]{64}$/.test(text)) bytes = Uint8Array.from(text.match(/../g), h => parseInt(h, 16));
    else bytes = fromBase64(text);
    if (bytes.length !== 32) throw new Error("the key must be 32 bytes (44 base64 or 64 hex characters)");
    return bytes;
  }

  async function importKey(text) {
    if (!globalThis.crypto || !crypto.subtle) {
      throw new Error("WebCrypto is not available: open this page over https or on localhost");
    }
    return crypto.subtle.importKey("raw", parseKey(text), { name: "AES-CBC" }, false, ["encrypt", "decrypt"]);
  }

  async function sha256Hex(text) {
    return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text))));
  }

  /** {data, hash} for a plaintext string; ``iv`` only for test vectors. */
  async function encrypt(key, plaintext, iv) {
    iv = iv || crypto.getRandomValues(new Uint8Array(16));
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key, encoder.encode(plaintext)));
    const data = `${toBase64(iv)}:${toBase64(ct)}`;
    return { data, hash: await sha256Hex(data) };
  }

  /** The plaintext of {data, hash}: the hash is checked first, then the padding. */
  async function decrypt(key, data, hash) {
    if (typeof data !== "string") throw new Error("data is not a string: not encrypted");
    if (hash && (await sha256Hex(data)) !== hash) throw new Error("hash mismatch");
    const parts = data.split(":");
    if (parts.length !== 2) throw new Error("not base64(iv):base64(ciphertext)");
    const iv = fromBase64(parts[0]);
    if (iv.length !== 16) throw new Error("the IV must be 16 bytes");
    let plain;
    try {
      plain = await crypto.subtle.decrypt({ name: "AES-CBC", iv }, key, fromBase64(parts[1]));
    } catch (e) {
      throw new Error("decryption failed (wrong key?)");
    }
    return decoder.decode(plain);
  }

  function generateKey() {
    return toBase64(crypto.getRandomValues(new Uint8Array(32)));
  }

  return { parseKey, importKey, encrypt, decrypt, generateKey, fromHex: h => Uint8Array.from(h.match(/../g) || [], x => parseInt(x, 16)) };
})();
