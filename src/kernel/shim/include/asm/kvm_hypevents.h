/* ffasim shim: hyp trace events are ffasim's own hops; nothing to do here. */
