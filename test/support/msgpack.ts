/**
 * The small part of MessagePack (https://github.com/msgpack/msgpack/blob/master/spec.md) that
 * mender-connect's "ProtoMsg" frames use: maps with string keys, strings, binary, integers,
 * booleans and nil (decoding also reads floats and arrays). Enough for a test to play the
 * server side of a remote terminal; not a general-purpose codec.
 */
export type MsgpackValue =
  null | boolean | number | string | Buffer | MsgpackValue[] | { [key: string]: MsgpackValue };

function encodeInto(value: MsgpackValue | undefined, out: Buffer[]): void {
  if (value === null || value === undefined) {
    out.push(Buffer.from([0xc0]));
  } else if (typeof value === 'boolean') {
    out.push(Buffer.from([value ? 0xc3 : 0xc2]));
  } else if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      const b = Buffer.alloc(9);
      b[0] = 0xcb;
      b.writeDoubleBE(value, 1);
      out.push(b);
    } else if (value >= 0 && value < 0x80) {
      out.push(Buffer.from([value]));
    } else if (value < 0 && value >= -32) {
      out.push(Buffer.from([value & 0xff]));
    } else {
      const b = Buffer.alloc(9);
      b[0] = value >= 0 ? 0xcf : 0xd3;
      if (value >= 0) b.writeBigUInt64BE(BigInt(value), 1);
      else b.writeBigInt64BE(BigInt(value), 1);
      out.push(b);
    }
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length < 32) out.push(Buffer.from([0xa0 | bytes.length]));
    else {
      const head = Buffer.alloc(5);
      head[0] = 0xdb;
      head.writeUInt32BE(bytes.length, 1);
      out.push(head);
    }
    out.push(bytes);
  } else if (Buffer.isBuffer(value)) {
    const head = Buffer.alloc(5);
    head[0] = 0xc6;
    head.writeUInt32BE(value.length, 1);
    out.push(head, value);
  } else if (Array.isArray(value)) {
    const head = Buffer.alloc(5);
    head[0] = 0xdd;
    head.writeUInt32BE(value.length, 1);
    out.push(head);
    for (const item of value) encodeInto(item, out);
  } else {
    const entries = Object.entries(value);
    const head = Buffer.alloc(5);
    head[0] = 0xdf;
    head.writeUInt32BE(entries.length, 1);
    out.push(head);
    for (const [key, item] of entries) {
      encodeInto(key, out);
      encodeInto(item, out);
    }
  }
}

export function msgpackEncode(value: MsgpackValue): Buffer {
  const out: Buffer[] = [];
  encodeInto(value, out);
  return Buffer.concat(out);
}

export function msgpackDecode(data: Buffer): MsgpackValue {
  let pos = 0;
  const take = (n: number): Buffer => {
    if (pos + n > data.length) throw new Error('msgpack: truncated input');
    const slice = data.subarray(pos, pos + n);
    pos += n;
    return slice;
  };
  const str = (n: number): string => take(n).toString('utf8');
  const bin = (n: number): Buffer => Buffer.from(take(n));
  const array = (n: number): MsgpackValue[] => Array.from({ length: n }, () => read());
  const map = (n: number): { [key: string]: MsgpackValue } => {
    const result: { [key: string]: MsgpackValue } = {};
    for (let i = 0; i < n; i++) {
      const key = read();
      if (typeof key !== 'string' && typeof key !== 'number')
        throw new Error('msgpack: map key is not a string');
      result[String(key)] = read();
    }
    return result;
  };
  const read = (): MsgpackValue => {
    const type = take(1)[0]!;
    if (type < 0x80) return type;
    if (type >= 0xe0) return type - 0x100;
    if ((type & 0xf0) === 0x80) return map(type & 0x0f);
    if ((type & 0xf0) === 0x90) return array(type & 0x0f);
    if ((type & 0xe0) === 0xa0) return str(type & 0x1f);
    switch (type) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return bin(take(1).readUInt8(0));
      case 0xc5:
        return bin(take(2).readUInt16BE(0));
      case 0xc6:
        return bin(take(4).readUInt32BE(0));
      case 0xca:
        return take(4).readFloatBE(0);
      case 0xcb:
        return take(8).readDoubleBE(0);
      case 0xcc:
        return take(1).readUInt8(0);
      case 0xcd:
        return take(2).readUInt16BE(0);
      case 0xce:
        return take(4).readUInt32BE(0);
      case 0xcf:
        return Number(take(8).readBigUInt64BE(0));
      case 0xd0:
        return take(1).readInt8(0);
      case 0xd1:
        return take(2).readInt16BE(0);
      case 0xd2:
        return take(4).readInt32BE(0);
      case 0xd3:
        return Number(take(8).readBigInt64BE(0));
      case 0xd9:
        return str(take(1).readUInt8(0));
      case 0xda:
        return str(take(2).readUInt16BE(0));
      case 0xdb:
        return str(take(4).readUInt32BE(0));
      case 0xdc:
        return array(take(2).readUInt16BE(0));
      case 0xdd:
        return array(take(4).readUInt32BE(0));
      case 0xde:
        return map(take(2).readUInt16BE(0));
      case 0xdf:
        return map(take(4).readUInt32BE(0));
      default:
        throw new Error(`msgpack: unsupported type byte 0x${type.toString(16)}`);
    }
  };
  const value = read();
  if (pos !== data.length) throw new Error(`msgpack: ${data.length - pos} trailing bytes`);
  return value;
}
