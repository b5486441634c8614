// cluster-key-slot ships no types; these are the two functions it exports (CommonJS).
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0-16383) of a key, honouring `{hash tags}`. */
  function calculateSlot(key: string | Buffer): number;
  namespace calculateSlot {
    /** The common slot of `keys`, or -1 when they span slots. */
    function generateMulti(keys: ReadonlyArray<string | Buffer>): number;
  }
  export default calculateSlot;
}
