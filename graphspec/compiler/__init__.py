"""The compiler: the networkx graph, blocks, shape inference, cross-section checks, codegen,
build, summary, and the pipeline entry (`pipeline.compile_file`)."""
