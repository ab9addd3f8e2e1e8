package main

import "fmt"

// countyProfile is what the generator assumes about a county beyond its
// boundary and names: how poor and how remote it is, and what it grows.
// These are judgements for a plausible demo, not published data.
type countyProfile struct {
	// Short is the name people use (桐梓 for 桐梓县).
	Short string
	// PovertyWeight is how likely a rural village here is still poor,
	// relative to other counties: high in the remote hills of the north
	// and east, low in the city districts.
	PovertyWeight float64
	// Remote marks the remote hilly counties where the five poverty
	// townships not yet exited lie.
	Remote bool
	// Urban marks the city districts, which have no poverty townships.
	Urban bool
	// Industry lists the local industries projects are named after.
	Industry []string
}

// profiles holds one entry per county of Zunyi, by county code.
var profiles = map[string]countyProfile{
	"520302": {Short: "红花岗", PovertyWeight: 0.10, Urban: true, Industry: []string{"蔬菜保供基地建设", "精品水果种植"}},
	"520303": {Short: "汇川", PovertyWeight: 0.10, Urban: true, Industry: []string{"蔬菜保供基地建设", "精品水果种植"}},
	"520304": {Short: "播州", PovertyWeight: 0.30, Industry: []string{"辣椒种植基地建设", "蔬菜种植基地建设"}},
	"520322": {Short: "桐梓", PovertyWeight: 0.65, Remote: true, Industry: []string{"方竹笋基地建设", "中药材种植"}},
	"520323": {Short: "绥阳", PovertyWeight: 0.50, Industry: []string{"朝天椒种植基地建设", "金银花种植"}},
	"520324": {Short: "正安", PovertyWeight: 0.75, Remote: true, Industry: []string{"白茶种植基地建设", "野木瓜种植"}},
	"520325": {Short: "道真", PovertyWeight: 0.85, Remote: true, Industry: []string{"中药材种植", "高山蔬菜种植"}},
	"520326": {Short: "务川", PovertyWeight: 0.85, Remote: true, Industry: []string{"白山羊养殖", "中药材种植"}},
	"520327": {Short: "凤冈", PovertyWeight: 0.65, Industry: []string{"锌硒茶种植基地建设", "肉牛养殖"}},
	"520328": {Short: "湄潭", PovertyWeight: 0.35, Industry: []string{"茶园提质增效", "精品水果种植"}},
	"520329": {Short: "余庆", PovertyWeight: 0.35, Industry: []string{"苦丁茶种植", "生态家禽养殖"}},
	"520330": {Short: "习水", PovertyWeight: 0.70, Remote: true, Industry: []string{"生态畜牧养殖", "红稗种植"}},
	"520381": {Short: "赤水", PovertyWeight: 0.45, Industry: []string{"金钗石斛种植", "竹产业基地建设"}},
	"520382": {Short: "仁怀", PovertyWeight: 0.35, Industry: []string{"有机高粱种植基地建设", "生态家禽养殖"}},
}

// profileOf returns a county's profile, or an error naming a county the
// table does not cover (the table is written for Zunyi only).
func profileOf(code string) (countyProfile, error) {
	p, ok := profiles[code]
	if !ok {
		return p, fmt.Errorf("no profile for county %s: add it to profiles", code)
	}
	return p, nil
}

// cityUnits are city-level bodies paired with poverty villages. Names
// follow the 2016 structure of a prefecture-level government.
var cityUnits = []string{
	"遵义市交通运输局", "遵义市卫生和计划生育委员会", "遵义市发展和改革委员会",
	"遵义市财政局", "遵义市教育局", "遵义市水务局", "遵义市农业委员会",
	"遵义市林业局", "遵义市国土资源局", "遵义市住房和城乡建设局",
	"遵义市环境保护局", "遵义市民政局", "遵义市人力资源和社会保障局",
	"遵义市商务局", "遵义市工业和信息化委员会", "遵义市公安局",
	"遵义市司法局", "遵义市审计局", "遵义市统计局",
	"遵义市文化广电新闻出版局", "遵义市旅游发展委员会", "遵义市科学技术局",
	"遵义市安全生产监督管理局", "遵义市食品药品监督管理局",
	"遵义市质量技术监督局", "遵义市生态移民局", "遵义市城乡规划局",
	"遵义市供销合作社联合社", "遵义市粮食局", "遵义市气象局",
}

// countyUnitSuffixes are county-level bodies; the county's name goes in
// front (桐梓县农牧局).
var countyUnitSuffixes = []string{
	"农牧局", "水务局", "交通运输局", "卫生和计划生育局", "教育局", "财政局",
	"林业局", "国土资源局", "住房和城乡建设局", "民政局",
	"人力资源和社会保障局", "发展和改革局", "商务局", "环境保护局",
	"扶贫开发办公室", "科技局", "文体广电局", "供销合作社", "统计局", "审计局",
}
