package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"pneumoscan/internal/cli"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
)

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func runInspect(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	pos, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Misuse(fs, "")
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	m, err := modelfile.Unmarshal(data)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	fmt.Fprintf(stdout, "file      %s\nsize      %d bytes (%.1f MB)\nsha256    %s\n", pos[0], len(data), float64(len(data))/1e6, sha256Hex(data))
	fmt.Fprintf(stdout, "onnx      ir_version %d, opsets", m.IrVersion)
	for _, op := range m.OpsetImport {
		d := op.Domain
		if d == "" {
			d = "ai.onnx"
		}
		fmt.Fprintf(stdout, " %s:%d", d, op.Version)
	}
	fmt.Fprintf(stdout, ", producer %q\n", m.ProducerName)
	g := m.Graph
	for _, v := range g.Input {
		fmt.Fprintf(stdout, "input     %s %s\n", v.Name, shapeOf(v))
	}
	for _, v := range g.Output {
		fmt.Fprintf(stdout, "output    %s %s\n", v.Name, shapeOf(v))
	}

	ops := map[string]int{}
	for _, n := range g.Node {
		ops[n.OpType]++
	}
	fmt.Fprintf(stdout, "nodes     %d:", len(g.Node))
	for _, k := range sortedKeys(ops) {
		fmt.Fprintf(stdout, " %s x%d", k, ops[k])
	}
	fmt.Fprintln(stdout)

	bytesBy, countBy := map[string]int{}, map[string]int{}
	for _, t := range g.Initializer {
		dt := onnxpb.TensorProto_DataType(t.DataType).String()
		dims, _ := modelfile.Dims(t)
		n := 1
		for _, d := range dims {
			n *= d
		}
		countBy[dt] += n
		bytesBy[dt] += len(t.RawData) + 4*len(t.FloatData) + 4*len(t.Int32Data) + 8*len(t.Int64Data) + 8*len(t.DoubleData)
	}
	fmt.Fprintf(stdout, "weights   %d initializers:", len(g.Initializer))
	for _, k := range sortedKeys(countBy) {
		fmt.Fprintf(stdout, " %s %d values (%.1f MB)", k, countBy[k], float64(bytesBy[k])/1e6)
	}
	fmt.Fprintln(stdout)

	md, err := model.ParseMetadata(m.MetadataProps)
	if err != nil {
		fmt.Fprintf(stdout, "metadata  not a usable pneumoscan model: %v\n", err)
		for _, p := range m.MetadataProps {
			fmt.Fprintf(stdout, "          %s = %s\n", p.Key, p.Value)
		}
		return nil
	}
	th, _ := md.OperatingThreshold()
	fmt.Fprintf(stdout, "name      %s %s (trained: %v)\n", md.Name, md.Version, md.Trained)
	fmt.Fprintf(stdout, "about     %s\n", md.Description)
	fmt.Fprintf(stdout, "classes   %v\n", md.Classes)
	fmt.Fprintf(stdout, "input     %+v\n", md.Preprocess)
	for _, t := range md.Thresholds {
		mark := " "
		if t.Name == th.Name {
			mark = "*"
		}
		fmt.Fprintf(stdout, "threshold %s %s\n", mark, describeThreshold(t))
	}
	if md.Population != "" {
		fmt.Fprintf(stdout, "population %s\n", md.Population)
	}
	fmt.Fprintf(stdout, "temperature %g\n", md.Temperature)
	if len(md.Metrics) == 0 {
		fmt.Fprintln(stdout, "metrics   none")
	}
	for _, k := range sortedKeys(md.Metrics) {
		fmt.Fprintf(stdout, "metric    %s = %.4g\n", k, md.Metrics[k])
	}
	return nil
}

func shapeOf(v *onnxpb.ValueInfoProto) string {
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return "(no tensor type)"
	}
	s := onnxpb.TensorProto_DataType(tt.ElemType).String() + " ["
	for i, d := range tt.GetShape().GetDim() {
		if i > 0 {
			s += ","
		}
		if p := d.GetDimParam(); p != "" {
			s += p
		} else {
			s += fmt.Sprint(d.GetDimValue())
		}
	}
	return s + "]"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
