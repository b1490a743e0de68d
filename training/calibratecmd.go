package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"pneumoscan/internal/cli"
	"pneumoscan/metrics"
	"pneumoscan/training/labelled"
)

// runCalibrate is site calibration on the command line: the page's calibration view, for a
// folder too large for a browser tab or for a site without one. It writes the same profile
// (model.SiteProfile), which the page imports.
func runCalibrate(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	modelPath := fs.String("model", "models/default.onnx", "the model file the profile is for (the page must load this same file)")
	data := fs.String("data", "", "folder with NORMAL/ and PNEUMONIA/ sub-folders of the site's own labelled films (required)")
	out := fs.String("o", "site-profile.json", "the site profile to write (atomically)")
	label := fs.String("label", "this site", "the site's name for its operating point, shown as \"site: <label> (...)\"")
	target := fs.Float64("sensitivity", 0.95, "the sensitivity the site point must reach on these films, in (0, 1]")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return cli.Misuse(fs, "calibrate needs --data")
	}
	if !(*target > 0 && *target <= 1) {
		return cli.Misuse(fs, "--sensitivity %v is not in (0, 1]", *target)
	}
	if err := labelled.CheckFolder(*data); err != nil {
		return err // before the model loads: a wrong folder is the likelier mistake
	}
	s, err := openScreener(*modelPath)
	if err != nil {
		return err
	}
	c, err := labelled.Calibrate(ctx, s, *data, *label, *target, time.Now(), stderr)
	if err != nil {
		return err
	}
	for _, f := range c.Scores.Skipped {
		fmt.Fprintln(stderr, "skipped", f)
	}
	m, p := c.Measures, c.Profile
	fmt.Fprintf(stdout, "%s %s (sha256 %s…) on %d films (%d normal, %d pneumonia; %d skipped)\n",
		p.Model.Name, p.Model.Version, p.Model.SHA256[:12], m.Normal+m.Pneumonia, m.Normal, m.Pneumonia, len(c.Scores.Skipped))
	fmt.Fprintf(stdout, "ROC-AUC %.4f, %.0f%% CI [%.4f, %.4f] (%d bootstrap resamples)\n", m.AUC, 100*metrics.SiteLevel, m.AUCCI.Lo, m.AUCCI.Hi, m.AUCCI.B)
	line := func(r metrics.RatesAt) {
		fmt.Fprintf(stdout, "  %-12s threshold %.4f: sensitivity %.3f [%.3f, %.3f] (%d/%d), specificity %.3f [%.3f, %.3f] (%d/%d)\n",
			r.Name, r.Threshold, r.Sensitivity, r.SensitivityCI.Lo, r.SensitivityCI.Hi, r.Confusion.TP, m.Pneumonia,
			r.Specificity, r.SpecificityCI.Lo, r.SpecificityCI.Hi, r.Confusion.TN, m.Normal)
	}
	for _, r := range m.Presets {
		line(r)
	}
	site := m.Site
	site.Name = "site point"
	line(site)
	if err := c.Write(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "site operating point %q written to %s: import it in the page (Site calibration, Import site profile)\n", p.Operating.Name, *out)
	return nil
}
