/** virtio-msg over FF-A: the message codec, the FF-A binding and split virtqueues (docs/virtio-msg.md). */
export * from './ffa.ts';
export * from './msg.ts';
export * from './virtqueue.ts';
