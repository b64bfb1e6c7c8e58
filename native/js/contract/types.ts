/**
 * The vocabulary of the native boundary's contract (ops.ts, test-ops.ts): the types an operation's
 * arguments and result may have, and what each becomes on the TypeScript side. render-header.ts
 * maps the same names to C++.
 */

/**
 * `string?` is text or null (a NULL `const char *` on the C++ side); `u32` a whole number that fits
 * uint32_t; `secret?` key bytes or null — a Buffer the handler zeroes once used, from a C++ copy
 * zeroed when the call is freed (op_call.h's SecretBytes); `bytes` a Buffer of the C caller's bytes
 * (an attachment's), copied once on the C side so a call that timed out never reads freed memory.
 */
export type ScalarType = 'string' | 'string?' | 'u32' | 'bool' | 'secret?' | 'bytes';

/** A record: named scalars, marshalled as one JavaScript object. */
export type RecordSpec = Readonly<Record<string, ScalarType>>;

/**
 * `text`: the operation answers a string (the C side requires one); `bytes`: it answers a Buffer,
 * which the C side copies once into memory the caller frees (sync_bytes_free); `nothing`: it answers
 * only its code.
 */
export type ResultType = 'text' | 'bytes' | 'nothing';

export interface OpSpec<RecordName extends string = string> {
  /** One line for the generated C++ function's comment. */
  readonly doc: string;
  /** In order: the generated C++ function takes them positionally; the host receives them as one object. */
  readonly args: Readonly<Record<string, ScalarType | RecordName>>;
  readonly result: ResultType;
}

export type OpTable<RecordName extends string = string> = Readonly<Record<string, OpSpec<RecordName>>>;

type ScalarValue<T extends ScalarType> = T extends 'string'
  ? string
  : T extends 'string?'
    ? string | null
    : T extends 'u32'
      ? number
      : T extends 'secret?'
        ? Buffer | null
        : T extends 'bytes'
          ? Buffer
          : boolean;

export type RecordValue<R extends RecordSpec> = { readonly [K in keyof R]: ScalarValue<R[K]> };

type ArgValue<T, Records extends Readonly<Record<string, RecordSpec>>> = T extends ScalarType
  ? ScalarValue<T>
  : T extends keyof Records
    ? RecordValue<Records[T]>
    : never;

/** The object a host handler receives for operation `Spec`. */
export type ArgsOf<Spec extends OpSpec, Records extends Readonly<Record<string, RecordSpec>>> = {
  readonly [K in keyof Spec['args']]: ArgValue<Spec['args'][K], Records>;
};

export type ResultOf<Spec extends OpSpec> = Spec['result'] extends 'text' ? string : Spec['result'] extends 'bytes' ? Buffer : void;

/**
 * One handler per operation of `Table`, typed by it: a missing or an extra handler, a wrong argument
 * name or type, or a text operation answering no string does not compile.
 */
export type Handlers<Table extends OpTable, Records extends Readonly<Record<string, RecordSpec>>> = {
  readonly [Op in keyof Table]: (engineId: number, args: ArgsOf<Table[Op], Records>) => ResultOf<Table[Op]> | Promise<ResultOf<Table[Op]>>;
};
