package model

import "encoding/json"

// NEMAPlan is the default intersection: a NEMA TS 2 eight-phase dual-ring
// controller. Ring 1 times phases 1-4, ring 2 phases 5-8; the barrier
// separates the north-south phases {1,2,5,6} from the east-west {3,4,7,8}.
// Odd phases are protected lefts, even ones throughs with pedestrian walk
// and clearance. A group may be green with another only if the pair is in
// "compatible" (the conflict monitor's card): the lefts with each other
// and with their own through, the throughs with each other, on the same
// side of the barrier. Yellows are inside MUTCD §4D.26's 3-6 s. Operators
// may switch between its plans (set-plan) and hold a group green for up to
// two minutes (hold-phase).
var NEMAPlan = json.RawMessage(`{"groups":["1","2","3","4","5","6","7","8"],` +
	`"compatible":[["1","5"],["1","6"],["2","5"],["2","6"],["3","7"],["3","8"],["4","7"],["4","8"]],` +
	`"rings":[["1","2","3","4"],["5","6","7","8"]],` +
	`"barriers":[["1","2","5","6"],["3","4","7","8"]],` +
	`"min_green_ms":5000,"min_yellow_ms":3000,"red_clearance_ms":1000,` +
	`"phases":{` +
	`"2":{"min_green_ms":10000,"yellow_ms":4000,"red_clearance_ms":1500,"walk_ms":7000,"ped_clearance_ms":10000},` +
	`"4":{"min_green_ms":8000,"yellow_ms":3500,"red_clearance_ms":1500,"walk_ms":7000,"ped_clearance_ms":8000},` +
	`"6":{"min_green_ms":10000,"yellow_ms":4000,"red_clearance_ms":1500,"walk_ms":7000,"ped_clearance_ms":10000},` +
	`"8":{"min_green_ms":8000,"yellow_ms":3500,"red_clearance_ms":1500,"walk_ms":7000,"ped_clearance_ms":8000}},` +
	`"startup_flash_ms":6000,` +
	`"plans":{"weekday-am":[["1","5"],["2","6"],["3","7"],["4","8"]],"split":[["1","5"],["2"],["6"],["3","7"],["4","8"]]},` +
	`"max_hold_s":120}`)
